"""The generated world: shape of the index records, variety, scale and determinism."""

from __future__ import annotations

import datetime as dt
import re
import time
import uuid

import pytest

from glimmr_dagster.lib.states import STATE_CODES
from glimmr_dagster.sandbox import NATIONAL_HOSPITALS, SandboxWorld
from glimmr_dagster.sandbox.content import get_format
from glimmr_dagster.sandbox.geography import allocate_hospitals


FACILITY_KEYS = ["id", "name", "address", "city", "state", "zip", "phone", "beds", "lat", "long", "ccn", "url",
                 "files"]
FILE_KEYS = ["fileid", "filename", "filesuffix", "filetype", "retrieved", "size", "url", "pageurl", "converted",
             "storage", "project"]
BASE = "http://sandbox.test"


def all_records(world: SandboxWorld) -> list[dict]:
    return world.search("", "", BASE)


def parse_retrieved(value: str) -> dt.datetime:
    if value.isdigit():
        return dt.datetime.fromtimestamp(int(value), dt.timezone.utc)
    for pattern in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"):
        try:
            return dt.datetime.strptime(value, pattern).replace(tzinfo=dt.timezone.utc)
        except ValueError:
            continue
    raise AssertionError(f"unparseable retrieved value {value!r}")


def test_default_world_covers_every_state_and_favours_large_ones(world: SandboxWorld) -> None:
    summary = world.summary()
    by_state = summary["facilities_by_state"]
    assert summary["facilities"] == 64
    assert sum(by_state.values()) == 64
    assert set(by_state) == set(STATE_CODES)
    assert min(by_state.values()) >= 1
    assert by_state["TX"] > by_state["VT"] and by_state["CA"] > by_state["WY"]


def test_records_have_the_index_shape(world: SandboxWorld) -> None:
    records = all_records(world)
    assert len(records) == 64
    for record in records:
        assert [key for key in FACILITY_KEYS if key in record] == [key for key in record]
        assert {"id", "name", "state", "city", "zip", "files"} <= set(record)
        uuid.UUID(record["id"])
        for key, value in record.items():
            if key != "files":
                assert isinstance(value, str), (key, value)
        if record.get("ccn"):
            assert re.fullmatch(r"\d{6}", record["ccn"]), record["ccn"]
        assert isinstance(record["files"], list)
        for file_record in record["files"]:
            assert [key for key in FILE_KEYS if key in file_record] == list(file_record)
            assert {"fileid", "filename", "filesuffix", "retrieved", "size", "url", "storage", "project"} <= set(
                file_record)
            for key, value in file_record.items():
                assert isinstance(value, bool) if key == "converted" else isinstance(value, str), (key, value)
            hosted = world.files[file_record["fileid"]]
            assert file_record["filesuffix"] == file_record["filename"].rsplit(".", 1)[1]
            assert file_record["filesuffix"] in ("csv", "json", "xlsx", "zip", "gz")
            assert re.fullmatch(r"\d{2}-?\d{7}(-\d{10})?_.+_(standardcharges|StandardCharges)\."
                                r"(csv|json|xlsx|zip|csv\.zip|json\.zip|csv\.gz|json\.gz)",
                                file_record["filename"]), file_record["filename"]
            assert file_record["url"].endswith(file_record["filename"])
            if not hosted.name_lies:
                assert file_record["filesuffix"] == get_format(hosted.format_name).suffix
            assert file_record["size"].isdigit() and int(file_record["size"]) > 1000
            assert file_record["url"].startswith(f"{BASE}/origin/")
            parse_retrieved(file_record["retrieved"])


def test_world_shows_the_oddities_clients_must_handle(world: SandboxWorld) -> None:
    records = all_records(world)
    files = [file_record for record in records for file_record in record["files"]]
    assert any(record["name"] == "" for record in records), "an unnamed record"
    assert any(record["files"] == [] for record in records), "a facility without files"
    assert any(set(FACILITY_KEYS) - set(record) for record in records), "a record missing optional keys"
    assert any(set(FILE_KEYS) - set(file_record) for file_record in files), "a file record missing keys"
    assert any(file_record["storage"] == "cfu" for file_record in files)
    assert any(file_record["storage"] != "cfu" for file_record in files)
    styles = set()
    for file_record in files:
        value = file_record["retrieved"]
        styles.add("epoch" if value.isdigit() else "ms-z" if value.endswith("Z") else
                   "space" if " " in value else "naive")
    assert styles == {"epoch", "ms-z", "space", "naive"}
    listings: dict[str, list[dict]] = {}
    for file_record in files:
        listings.setdefault(file_record["fileid"], []).append(file_record)
    shared = [fileid for fileid, copies in listings.items() if len(copies) > 1]
    assert shared, "a health-system file listed under several facilities"
    for fileid in shared:
        assert all(copy == listings[fileid][0] for copy in listings[fileid])
    assert world.summary()["shared_files"] == sorted(shared)


def test_national_world_is_quick_and_shaped_like_the_real_index() -> None:
    started = time.perf_counter()
    world = SandboxWorld(seed=7, hospitals=NATIONAL_HOSPITALS)
    elapsed = time.perf_counter() - started
    summary = world.summary()
    by_state = summary["facilities_by_state"]
    assert summary["facilities"] == NATIONAL_HOSPITALS
    assert min(by_state.values()) >= 10
    biggest = sorted(by_state, key=by_state.get, reverse=True)[:6]
    assert {"CA", "TX", "FL", "NY"} <= set(biggest)
    assert by_state["TX"] > 500 and by_state["DC"] < 30
    assert 5 <= summary["facilities_without_name"] <= 60
    assert summary["facilities_without_files"] > 100
    assert len(summary["shared_files"]) > 50
    assert summary["listed_files"] > 6000
    # Nothing is rendered up front: sizes are computed when a record is first served.
    assert summary["content_cache"]["known_sizes"] == 0
    # A generous bound; the world takes well under a second on a laptop.
    assert elapsed < 10, elapsed
    records = world.search("DC", "", BASE)
    assert len(records) == by_state["DC"]
    assert world.summary()["content_cache"]["known_sizes"] == len({f["fileid"] for r in records for f in r["files"]})


@pytest.mark.parametrize("total", [0, 10, 51, 64, 1000, NATIONAL_HOSPITALS])
def test_allocation_adds_up(total: int) -> None:
    counts = allocate_hospitals(total)
    assert sum(counts.values()) == total
    if total >= 51:
        assert min(counts.values()) >= 1


def test_same_seed_same_world_and_bytes() -> None:
    first, second = SandboxWorld(seed=99), SandboxWorld(seed=99)
    assert all_records(first) == all_records(second)
    for fileid, hosted in first.files.items():
        assert first.store.content(hosted.current.spec).read_all() == \
            second.store.content(second.files[fileid].current.spec).read_all()


def test_different_seed_different_world() -> None:
    first, second = SandboxWorld(seed=1), SandboxWorld(seed=2)
    assert {r["id"] for r in all_records(first)}.isdisjoint({r["id"] for r in all_records(second)})
    assert set(first.files).isdisjoint(second.files)


def test_record_size_is_the_real_byte_size(world: SandboxWorld) -> None:
    for record in all_records(world):
        for file_record in record["files"]:
            hosted = world.files[file_record["fileid"]]
            assert int(file_record["size"]) == len(world.store.content(hosted.current.spec).read_all())


def test_search_filters_by_name_city_and_zip(world: SandboxWorld) -> None:
    texas = world.search("TX", "", BASE)
    assert texas and all(record["state"] == "TX" for record in texas)
    target = next(record for record in texas if record["name"])
    by_name = world.search("TX", target["name"][:6].upper(), BASE)
    assert target["id"] in {record["id"] for record in by_name}
    assert all(target["name"][:6].lower() in (r["name"] + r["city"] + r["zip"]).lower() for r in by_name)
    assert target["id"] in {r["id"] for r in world.search("TX", target["city"].lower(), BASE)}
    if target["zip"]:
        assert target["id"] in {r["id"] for r in world.search("TX", target["zip"][:5], BASE)}
    assert world.search("TX", "no hospital is called this", BASE) == []
    assert world.search("ZZ", "", BASE) == []


SUCCESSFUL_FAMILIES = {"csv-tall", "csv-wide", "json", "xlsx", "zip", "gzip"}


@pytest.mark.parametrize("seed", [0, 3, 11, 4242, 20250101])
def test_every_default_world_shows_every_format_family(seed: int) -> None:
    world = SandboxWorld(seed=seed)
    summary = world.summary()
    families = summary["format_families"]
    assert set(families) == SUCCESSFUL_FAMILIES  # and no failures unless asked for
    formats = summary["formats"]
    for name in ("cms-csv-2.2-tall", "cms-csv-2.2-wide", "cms-csv-3.0-tall", "cms-csv-3.0-wide",
                 "cms-json-2.2", "cms-json-3.0"):
        assert formats.get(name), name
    assert any(name.endswith("-cp1252") for name in formats)
    csv_share = (families["csv-tall"] + families["csv-wide"]) / summary["listed_files"]
    assert csv_share > 0.6, families
    assert summary["misnamed_files"] >= 1
    for hosted in world.files.values():
        if hosted.name_lies:
            # The lies hospitals tell: a CSV named .json, JSON named .csv (a ZIP named .csv is its own format).
            assert (hosted.family, hosted.suffix) in {("csv-tall", "json"), ("csv-wide", "json"), ("json", "csv")}
        if hosted.family == "zip" or hosted.family == "gzip":
            inner = hosted.current.spec.inner_format
            assert inner.startswith(("cms-csv-", "cms-json-")), (hosted.format_name, inner)


def test_national_world_mix_is_mostly_cms_csv() -> None:
    summary = SandboxWorld(seed=5, hospitals=2000).summary()
    families, listed = summary["format_families"], summary["listed_files"]
    share = {family: count / listed for family, count in families.items()}
    assert share["csv-tall"] + share["csv-wide"] > 0.7
    assert 0.07 < share["json"] < 0.16
    assert 0.003 < share["xlsx"] < 0.025
    assert 0.03 < share["zip"] < 0.1 and 0.015 < share["gzip"] < 0.07
    quirky = sum(count for name, count in summary["formats"].items()
                 if name.rsplit("-", 1)[-1] in ("bom", "cp1252", "crlf", "headers", "multiline"))
    assert 0.03 < quirky / listed < 0.12
    assert 0.005 < summary["misnamed_files"] / listed < 0.06
    assert "failure" not in families


def test_failing_files_are_opt_in_and_change_nothing_else() -> None:
    plain, failing = SandboxWorld(seed=8), SandboxWorld(seed=8, failing_files=True)
    assert plain.summary()["failing_files"] is False and failing.summary()["failing_files"] is True
    hostile = {hosted.format_name for hosted in failing.files.values() if hosted.family == "failure"}
    assert hostile == {"hostile-html-page", "hostile-empty", "hostile-zip-slip", "hostile-zip-bomb"}
    assert set(plain.files) == set(failing.files)
    changed = [fileid for fileid, hosted in failing.files.items()
               if hosted.format_name != plain.files[fileid].format_name]
    assert all(failing.files[fileid].family == "failure" for fileid in changed)
    assert len(changed) <= 6
    for fileid in changed:
        # A failure answers at the name the file would have had.
        assert failing.files[fileid].filename == plain.files[fileid].filename
    large = SandboxWorld(seed=8, hospitals=2000, failing_files=True).summary()
    assert 0.01 < large["format_families"]["failure"] / large["listed_files"] < 0.06
