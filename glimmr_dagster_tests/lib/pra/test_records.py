from datetime import datetime, timezone

import pytest

from glimmr_dagster.lib.pra.records import (
    parse_facility,
    parse_int,
    parse_retrieved,
    parse_state_listing,
)

UTC = timezone.utc


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("2025-03-04T05:06:07.123Z", datetime(2025, 3, 4, 5, 6, 7, 123000, tzinfo=UTC)),
        ("2025-03-04T05:06:07Z", datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)),
        ("2025-03-04T05:06:07", datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)),
        ("2025-03-04T00:06:07-05:00", datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)),
        ("2025-03-04T05:06:07.1234567+00:00", datetime(2025, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)),
        ("2025-03-04 05:06:07", datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)),
        ("2025-03-04", datetime(2025, 3, 4, tzinfo=UTC)),
        ("1741064767", datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)),
        ("1741064767000", datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)),
        ("1741064767.5", datetime(2025, 3, 4, 5, 6, 7, 500000, tzinfo=UTC)),
        ("", None),
        ("yesterday", None),
        (None, None),
    ],
)
def test_retrieved_formats(raw, expected):
    assert parse_retrieved(raw) == expected


@pytest.mark.parametrize(
    "raw, expected",
    [("120", 120), (" 45 ", 45), ("1,204", 1204), ("12.0", 12), ("", None), ("N/A", None),
     ("-3", None), ("12.5", None), (None, None), (7, 7)],
)
def test_counts_tolerate_junk(raw, expected):
    assert parse_int(raw) == expected


def _record(**overrides):
    record = {
        "id": "7f1c9a52-0000-4000-8000-000000000001",
        "name": "Mercy General Hospital",
        "address": "4001 J St",
        "city": "Sacramento",
        "state": "CA",
        "zip": "95819",
        "phone": "916-453-4545",
        "beds": "342",
        "lat": "38.5696",
        "long": "-121.4545",
        "ccn": "050017",
        "url": "https://mercy.example.org",
        "files": [
            {
                "fileid": "f-1",
                "filename": "941196203_mercy-general_standardcharges.csv",
                "filesuffix": "CSV",
                "filetype": "",
                "retrieved": "2025-03-04 05:06:07",
                "size": "123456",
                "url": "https://mercy.example.org/prices.csv",
                "pageurl": "https://mercy.example.org/prices",
                "converted": False,
                "storage": "abc.csv",
                "project": "pra-files",
            }
        ],
    }
    record.update(overrides)
    return record


def test_facility_fields_are_typed_and_junk_becomes_missing():
    facility = parse_facility(_record(beds="unknown", lat="", long="0"), "CA")
    assert facility.beds is None and facility.lat is None and facility.lon is None
    assert facility.ccn == "050017"  # leading zero kept
    [file] = facility.files
    assert file.size == 123456 and file.filesuffix == "csv"
    assert file.retrieved_at == datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
    assert parse_facility(_record(), "CA").lat == pytest.approx(38.5696)


def test_empty_string_and_missing_field_are_the_same_record():
    with_blank = _record(phone="", ccn="")
    without = _record()
    del without["phone"], without["ccn"]
    assert parse_facility(with_blank, "CA").fingerprint() == parse_facility(without, "CA").fingerprint()


def test_reformatted_retrieved_is_not_a_change_but_a_new_instant_is():
    a = parse_facility(_record(), "CA").files[0]
    b_raw = _record()
    b_raw["files"][0]["retrieved"] = "2025-03-04T05:06:07Z"
    c_raw = _record()
    c_raw["files"][0]["retrieved"] = "2025-03-05T05:06:07Z"
    assert a.change_signature() == parse_facility(b_raw, "CA").files[0].change_signature()
    assert a.change_signature() != parse_facility(c_raw, "CA").files[0].change_signature()


def test_listing_skips_and_counts_records_without_name_or_id():
    listing = parse_state_listing(
        "CA",
        [_record(), _record(id="x-2", name=""), _record(id="x-3", name="   "), {"name": "No Id"}, "junk",
         _record()],
    )
    assert [f.id for f in listing.facilities] == ["7f1c9a52-0000-4000-8000-000000000001"]
    assert listing.skipped_without_name == 2
    assert listing.skipped_without_id == 2
    assert listing.duplicate_ids == 1
    assert listing.skipped == 4


def test_searched_state_wins_over_record_state():
    assert parse_facility(_record(state=""), "NV").state == "NV"
