from datetime import datetime, timedelta, timezone

from glimmr_dagster.lib.pra.records import parse_state_listing
from glimmr_dagster.lib.roster import apply_state_listing
from glimmr_dagster.lib.worklist import (
    hospitals_needing_work,
    listed_files,
    record_acquired,
    record_attempt_started,
    record_failed,
    retry_delay,
)

T0 = datetime(2026, 5, 1, 6, 0, tzinfo=timezone.utc)


def listing(*facilities):
    return parse_state_listing("NV", [
        {"id": fid, "name": f"H {fid}", "files": [
            {"fileid": f, "retrieved": retrieved, "size": "10", "url": f"https://h.example/{f}"}
            for f, retrieved in files
        ]}
        for fid, files in facilities
    ])


def acquire_all(catalog, key, run_id="r"):
    files = [f for f in listed_files(catalog, key) if f.needs_work]
    record_attempt_started(catalog, key, [f.fileid for f in files], run_id=run_id, now=T0)
    for f in files:
        record_acquired(catalog, key, f.fileid, f.signature, now=T0)


def test_retry_delays_double_from_an_hour_to_a_day():
    assert [retry_delay(n) for n in range(7)] == [
        timedelta(0), timedelta(hours=1), timedelta(hours=2), timedelta(hours=4), timedelta(hours=8),
        timedelta(hours=16), timedelta(hours=24)]
    assert retry_delay(30) == timedelta(days=1)


def test_new_files_need_work_until_acquired(catalog):
    apply_state_listing(catalog, listing(("a", [("f1", "2026-01-01")]), ("b", [])), now=T0)
    work = hospitals_needing_work(catalog, now=T0)
    assert [(w.hospital_key, w.reason, w.attempt, [f.fileid for f in w.files]) for w in work] == [
        ("NV-a", "new", 0, ["f1"])]
    acquire_all(catalog, "NV-a")
    assert hospitals_needing_work(catalog, now=T0) == []


def test_changed_signature_needs_work_again_with_a_new_run_key(catalog):
    apply_state_listing(catalog, listing(("a", [("f1", "2026-01-01"), ("f2", "2026-01-01")])), now=T0)
    first_key = hospitals_needing_work(catalog, now=T0)[0].run_key
    acquire_all(catalog, "NV-a")
    apply_state_listing(catalog, listing(("a", [("f1", "2026-02-01"), ("f2", "2026-01-01")])), now=T0)
    [work] = hospitals_needing_work(catalog, now=T0)
    assert work.reason == "changed" and [f.fileid for f in work.files] == ["f1"]
    assert work.run_key != first_key and work.run_key.startswith("NV-a:")


def test_failure_backs_off_and_the_retry_has_its_own_run_key(catalog):
    apply_state_listing(catalog, listing(("a", [("f1", "2026-01-01")])), now=T0)
    [fresh] = hospitals_needing_work(catalog, now=T0)
    record_attempt_started(catalog, "NV-a", ["f1"], run_id="run-1", now=T0)
    record_failed(catalog, "NV-a", "f1", "HTTP 503 from https://h.example/f1")
    assert hospitals_needing_work(catalog, now=T0 + timedelta(minutes=59)) == []
    [retry] = hospitals_needing_work(catalog, now=T0 + timedelta(hours=1))
    assert (retry.reason, retry.attempt) == ("retry", 1)
    assert retry.run_key != fresh.run_key and retry.run_key.endswith("attempt-1")
    # The second failure waits two hours.
    record_attempt_started(catalog, "NV-a", ["f1"], run_id="run-2", now=T0 + timedelta(hours=1))
    assert hospitals_needing_work(catalog, now=T0 + timedelta(hours=2, minutes=59)) == []
    assert hospitals_needing_work(catalog, now=T0 + timedelta(hours=3))[0].attempt == 2


def test_closed_hospitals_and_delisted_files_need_nothing(catalog):
    apply_state_listing(catalog, listing(("a", [("f1", "2026-01-01")]), ("b", [("f2", "2026-01-01")])), now=T0)
    apply_state_listing(catalog, listing(("a", [])), now=T0 + timedelta(hours=1))
    assert hospitals_needing_work(catalog, now=T0) == []


def test_limit_and_after_page_through_hospitals_in_key_order(catalog):
    apply_state_listing(catalog, listing(*[(f"h{i:02d}", [(f"f{i}", "2026-01-01")]) for i in range(7)]), now=T0)
    first = hospitals_needing_work(catalog, now=T0, limit=3)
    rest = hospitals_needing_work(catalog, now=T0, after=first[-1].hospital_key, limit=10)
    assert [w.hospital_key for w in first] == ["NV-h00", "NV-h01", "NV-h02"]
    assert [w.hospital_key for w in rest] == ["NV-h03", "NV-h04", "NV-h05", "NV-h06"]
