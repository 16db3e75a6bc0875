from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from glimmr_dagster.lib.catalog.schema import file_records, hospitals
from glimmr_dagster.lib.pra.records import parse_state_listing
from glimmr_dagster.lib.roster import apply_state_listing, hospital_key, state_had_hospitals

T0 = datetime(2026, 5, 1, 6, 0, tzinfo=timezone.utc)


def facility(fid: str, name: str | None = None, files=(), **extra):
    name = f"Hospital {fid}" if name is None else name
    return {"id": fid, "name": name, "city": "Reno", "files": list(files), **extra}


def price_file(fileid: str, retrieved: str = "2026-04-01T00:00:00Z", size: str = "100", url: str = ""):
    return {"fileid": fileid, "retrieved": retrieved, "size": size,
            "url": url or f"https://h.example/{fileid}.csv", "filename": f"{fileid}.csv"}


def scan(catalog, records, at):
    return apply_state_listing(catalog, parse_state_listing("NV", records), now=at)


def test_first_scan_adds_every_hospital_and_file(catalog):
    changes = scan(catalog, [facility("a", files=[price_file("f1")]), facility("b"), facility("c", name="")], T0)
    assert changes.new == ["NV-a", "NV-b"]
    assert (changes.hospitals, changes.unchanged, changes.skipped, changes.files_new) == (2, 0, 1, 1)
    assert state_had_hospitals(catalog, "NV") and not state_had_hospitals(catalog, "CA")


def test_rescan_classifies_changes(catalog):
    scan(catalog, [facility("a", files=[price_file("f1"), price_file("f2")]), facility("b"), facility("c")], T0)
    later = T0 + timedelta(hours=12)
    changes = scan(
        catalog,
        [
            # a: f1 republished (new retrieved), f2 same bytes but timestamp reformatted, f3 new
            facility("a", files=[price_file("f1", retrieved="2026-04-20T00:00:00Z"),
                                 price_file("f2", retrieved="2026-04-01 00:00:00"), price_file("f3")]),
            facility("b", phone="775-555-0100"),  # descriptive change only
            # c is gone; d is new
            facility("d"),
        ],
        later,
    )
    assert changes.new == ["NV-d"]
    assert changes.changed == ["NV-a", "NV-b"]
    assert changes.removed == ["NV-c"]
    assert (changes.files_new, changes.files_changed, changes.files_unchanged) == (1, 1, 1)
    with catalog.read() as conn:
        c = conn.execute(sa.select(hospitals).where(hospitals.c.hospital_key == "NV-c")).one()
        f1 = conn.execute(sa.select(file_records).where(file_records.c.fileid == "f1")).one()
        f2 = conn.execute(sa.select(file_records).where(file_records.c.fileid == "f2")).one()
    assert c.status == "closed" and c.closed_at == later  # closed, not deleted
    assert f1.changed_at == later and f1.retrieved == "2026-04-20T00:00:00Z"
    assert f2.changed_at == T0 and f2.retrieved == "2026-04-01 00:00:00"


def test_size_and_url_changes_are_file_changes(catalog):
    scan(catalog, [facility("a", files=[price_file("f1"), price_file("f2")])], T0)
    changes = scan(catalog, [facility("a", files=[price_file("f1", size="101"),
                                                  price_file("f2", url="https://h.example/moved.csv")])],
                   T0 + timedelta(hours=1))
    assert changes.files_changed == 2


def test_closed_hospital_that_reappears_is_open_and_new_again(catalog):
    scan(catalog, [facility("a"), facility("b", files=[price_file("f1")])], T0)
    closed = scan(catalog, [facility("a")], T0 + timedelta(days=1))
    assert closed.removed == ["NV-b"] and closed.files_removed == 1
    back = scan(catalog, [facility("a"), facility("b", files=[price_file("f1")])], T0 + timedelta(days=2))
    assert back.new == ["NV-b"] and back.files_changed == 1 and back.unchanged == 1
    with catalog.read() as conn:
        row = conn.execute(sa.select(hospitals.c.status, hospitals.c.closed_at)
                           .where(hospitals.c.hospital_key == "NV-b")).one()
        listed = conn.execute(sa.select(file_records.c.listed).where(file_records.c.fileid == "f1")).scalar()
    assert (row.status, row.closed_at, listed) == ("open", None, True)


def test_unchanged_rescan_changes_nothing(catalog):
    records = [facility("a", files=[price_file("f1")]), facility("b")]
    scan(catalog, records, T0)
    again = scan(catalog, records, T0 + timedelta(hours=12))
    assert (again.new, again.changed, again.removed, again.unchanged) == ([], [], [], 2)
    assert (again.files_unchanged, again.files_changed, again.files_new) == (1, 0, 0)


def test_shared_fileid_is_one_record_per_hospital(catalog):
    shared = price_file("system-file")
    scan(catalog, [facility("a", files=[shared]), facility("b", files=[shared])], T0)
    with catalog.read() as conn:
        keys = conn.execute(sa.select(file_records.c.hospital_key).where(file_records.c.fileid == "system-file")
                            ).scalars().all()
    assert sorted(keys) == [hospital_key("NV", "a"), hospital_key("NV", "b")]
