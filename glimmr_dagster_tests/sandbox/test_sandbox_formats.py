"""Every format the sandbox serves: its bytes are what it claims, follow the CMS rules, and are a
pure function of (seed, fileid, version)."""

from __future__ import annotations

import csv
import gzip
import io
import json
import zipfile
from dataclasses import replace

import pytest

from glimmr_dagster.sandbox import format_names
from glimmr_dagster.sandbox.content import (
    FAMILIES,
    ContentSpec,
    HospitalHeader,
    build_content,
    content_etag,
    describe_formats,
    get_format,
)
from glimmr_dagster.sandbox.wrapped_formats import BOMB_MEMBER_BYTES

from .cms_checker import check_cms_csv
from .format_checks import check_json, check_served, gzip_member_name, workbook_rows

HOSPITAL = HospitalHeader(
    hospital_name="Lakeside General Hospital",
    location_names=("Lakeside General Hospital", "Lakeside Surgical Center"),
    addresses=("12 Main Street, Austin, TX 78701", "40 Oak Ave, Austin, TX 78702"),
    state="TX",
    license_number="L-10442",
    type_2_npis=("1234567890", "1987654321"),
    attester_name="Maria Gonzalez",
)
FILEIDS = ("a1b2c3", "d4e5f6", "0a0b0c")
SUCCESSFUL = [name for name in format_names(streaming=False)
              if get_format(name).family not in ("", "failure")]


def spec(format_name: str, *, fileid: str = "a1b2c3", version: int = 1, rows: int = 90,
         inner_format: str = "") -> ContentSpec:
    return ContentSpec(format_name, 42, fileid, version, 1767312000.0 + version * 86400, HOSPITAL, rows=rows,
                       inner_format=inner_format)


def served(format_name: str, **kwargs) -> bytes:
    return build_content(spec(format_name, **kwargs)).read_all()


def test_the_registry_names_every_family() -> None:
    described = {entry["name"]: entry for entry in describe_formats()}
    families = {entry["family"] for entry in described.values()}
    assert set(FAMILIES) <= families
    for version in ("2.2", "3.0"):
        assert described[f"cms-json-{version}"]["family"] == "json"
        for layout in ("tall", "wide"):
            assert described[f"cms-xlsx-{version}-{layout}"]["suffix"] == "xlsx"
            for quirk in ("bom", "cp1252", "crlf", "loose-headers", "multiline"):
                entry = described[f"cms-csv-{version}-{layout}-{quirk}"]
                assert (entry["family"], entry["cms_version"], entry["layout"]) == (f"csv-{layout}", version, layout)
    assert described["wrapped-gzip-json"]["extension"] == "json.gz"
    assert described["wrapped-zip-as-csv"]["suffix"] == "csv" and described["wrapped-zip-as-csv"]["family"] == "zip"
    assert {name for name, entry in described.items() if entry["family"] == "failure"} == {
        "hostile-html-page", "hostile-empty", "hostile-zip-slip", "hostile-zip-bomb"}


@pytest.mark.parametrize("format_name", SUCCESSFUL)
def test_every_format_is_what_it_claims_and_follows_the_cms_rules(format_name: str) -> None:
    for fileid in FILEIDS:
        for version in (1, 2):
            data = served(format_name, fileid=fileid, version=version)
            assert check_served(format_name, data) == [], (fileid, version)


@pytest.mark.parametrize("format_name", SUCCESSFUL + ["hostile-zip-slip"])
def test_every_format_is_deterministic_per_version(format_name: str) -> None:
    first = served(format_name)
    assert served(format_name) == first
    assert served(format_name, version=2) != first
    assert served(format_name, fileid="d4e5f6") != first
    assert content_etag(spec(format_name)) != content_etag(spec(format_name, version=2))


def test_the_checks_notice_broken_files() -> None:
    document = json.loads(served("cms-json-3.0"))
    del document["attestation"]
    document["standard_charge_information"][0]["standard_charges"][0]["setting"] = "outpatient only"
    problems = check_json(json.dumps(document).encode(), "3.0")
    assert any("attestation" in problem for problem in problems)
    assert any("setting" in problem for problem in problems)
    assert check_json(served("cms-json-2.2"), "3.0") != []  # a v2.2 file is no v3.0 file
    assert check_served("cms-csv-3.0-tall-cp1252", served("cms-csv-3.0-tall")) != []
    assert check_served("cms-csv-3.0-wide", served("cms-csv-2.2-wide")) != []
    assert check_served("cms-xlsx-3.0-tall", served("cms-csv-3.0-tall")) != []


def csv_records(data: bytes, encoding: str = "utf-8-sig") -> list[dict[str, str]]:
    rows = list(csv.reader(io.StringIO(data.decode(encoding), newline="")))
    return [dict(zip(rows[2], row)) for row in rows[3:]]


def test_json_carries_the_tall_csvs_items_and_prices() -> None:
    for version in ("2.2", "3.0"):
        tall = csv_records(served(f"cms-csv-{version}-tall"))
        from_csv = {(r["description"], r["code|1"], r["payer_name"], r["plan_name"],
                     r["standard_charge|negotiated_dollar"], r["standard_charge|methodology"])
                    for r in tall if r["code|1"] and r["payer_name"]}
        document = json.loads(served(f"cms-json-{version}"))
        from_json = set()
        for item in document["standard_charge_information"]:
            for charge in item["standard_charges"]:
                for payer in charge.get("payers_information", []):
                    dollar = payer.get("standard_charge_dollar")
                    from_json.add((item["description"], item["code_information"][0]["code"], payer["payer_name"],
                                   payer["plan_name"], "" if dollar is None else f"{dollar:g}" if dollar == int(dollar)
                                   else f"{dollar:.2f}", payer["methodology"]))
        assert from_json == from_csv and len(from_json) > 20
        modifier_rows = sum(1 for r in tall if not r["code|1"])
        modifiers = {(m["code"], p["payer_name"]) for m in document.get("modifier_information", [])
                     for p in m["modifier_payer_information"]}
        assert len(modifiers) == modifier_rows


@pytest.mark.parametrize("version, layout", [("2.2", "tall"), ("3.0", "wide")])
def test_xlsx_holds_the_csvs_cells_as_typed_values(version: str, layout: str) -> None:
    for fileid in FILEIDS:
        rows = list(csv.reader(io.StringIO(served(f"cms-csv-{version}-{layout}", fileid=fileid).decode("utf-8-sig"),
                                           newline="")))
        sheet = workbook_rows(served(f"cms-xlsx-{version}-{layout}", fileid=fileid))
        assert sheet[2] == rows[2]
        assert len(sheet) == len(rows)
        for from_sheet, from_csv in zip(sheet[3:], rows[3:]):
            for cell, expected in zip(from_sheet, from_csv):
                if cell != expected:
                    assert float(cell) == float(expected), (cell, expected)
        assert [c.lower() for c in sheet[1] if c] == [c.lower() for c in rows[1] if c]


def test_quirks_show_in_the_bytes() -> None:
    cp1252 = served("cms-csv-3.0-tall-cp1252")
    assert b"\x97" in cp1252 and not cp1252.startswith(b"\xef\xbb\xbf")
    with pytest.raises(UnicodeDecodeError):
        cp1252.decode("utf-8")
    assert "\u2014" in cp1252.decode("cp1252")
    assert served("cms-csv-2.2-wide-bom").startswith(b"\xef\xbb\xbf")
    crlf = served("cms-csv-3.0-wide-crlf")
    assert crlf.count(b"\r\n") == crlf.count(b"\n") > 4
    loose = served("cms-csv-3.0-tall-loose-headers").decode("utf-8-sig").splitlines()
    assert " | " in loose[2] and ("CODE | 1" in loose[2] or "Code | 1" in loose[2])
    assert check_cms_csv(served("cms-csv-3.0-tall-loose-headers")).errors != []  # not the template's spelling
    multiline = csv_records(served("cms-csv-2.2-tall-multiline"))
    assert "\n" in multiline[0]["description"]
    assert sum("\n" in record["description"] for record in multiline) > 1


def test_wrappers_carry_the_inner_format_they_name() -> None:
    archive = zipfile.ZipFile(io.BytesIO(served("wrapped-zip-csv", inner_format="cms-csv-2.2-wide")))
    [name] = archive.namelist()
    assert name == "a1b2c3_standardcharges.csv"
    result = check_cms_csv(archive.read(name))
    assert (result.errors, result.version, result.layout) == ([], "2.0.0", "wide")

    bundle = zipfile.ZipFile(io.BytesIO(served("wrapped-zip-bundle", inner_format="cms-csv-2.2-tall")))
    versions = {check_cms_csv(bundle.read(name)).version for name in bundle.namelist() if name.endswith(".csv")
                and not name.startswith("__MACOSX")}
    assert versions == {"2.0.0"}

    packed = served("wrapped-gzip-json", inner_format="cms-json-2.2")
    assert gzip_member_name(packed) == "a1b2c3_standardcharges.json"
    assert json.loads(gzip.decompress(packed))["version"] == "2.2.0"
    assert gzip.decompress(served("wrapped-gzip-csv")) == served("cms-csv-3.0-tall")  # the default inner

    as_csv = served("wrapped-zip-as-csv", inner_format="cms-csv-3.0-wide")
    assert as_csv.startswith(b"PK\x03\x04")
    assert check_served("wrapped-zip-as-csv", as_csv, "cms-csv-3.0-wide") == []


def test_failures_are_what_they_claim() -> None:
    page = served("hostile-html-page")
    assert page.startswith(b"<!DOCTYPE html>") and b"<title>Page Moved" in page
    assert served("hostile-empty") == b""

    slip = zipfile.ZipFile(io.BytesIO(served("hostile-zip-slip")))
    assert any(name.startswith("../") for name in slip.namelist())

    bomb_bytes = served("hostile-zip-bomb")
    bomb = zipfile.ZipFile(io.BytesIO(bomb_bytes))
    [info] = bomb.infolist()
    assert info.file_size == BOMB_MEMBER_BYTES and info.compress_type == zipfile.ZIP_DEFLATED
    assert info.file_size / len(bomb_bytes) > 500
    assert bomb.testzip() is None  # sizes and CRC are honest: only the ratio is hostile
    with bomb.open(info) as member:
        assert member.read(1 << 16) == b"0" * (1 << 16)
    assert served("hostile-zip-bomb", fileid="d4e5f6") != bomb_bytes


def test_large_files_keep_their_format_family() -> None:
    large = replace(spec("cms-csv-3.0-tall-large"), target_size=200_000)
    assert get_format(large.format_name).family == "csv-tall"
    assert check_served("cms-csv-3.0-tall", build_content(large).read_all()) == []


@pytest.mark.parametrize("version", ["2.2", "3.0"])
def test_large_json_has_the_exact_size_and_is_valid(version: str) -> None:
    size = 1_300_000 + 17
    content = build_content(replace(spec(f"cms-json-{version}-large"), target_size=size))
    data = content.read_all()
    assert content.size == len(data) == size and data.endswith(b"]}\n")
    assert check_json(data, version) == []
    items = json.loads(data)["standard_charge_information"]
    chargemaster = [code["code"] for item in items for code in item["code_information"] if code["type"] == "CDM"]
    assert len(chargemaster) == len(items) == len(set(chargemaster))  # distinct across repeated blocks
    for start, end in ((0, 10), (content.body_start - 3, content.body_start + 5000), (size - 7000, size),
                       (content.body_start + content.block_length - 9, content.body_start + content.block_length + 9)):
        assert b"".join(bytes(chunk) for chunk in content.iter_range(start, end)) == data[start:end]
    with pytest.raises(ValueError):
        build_content(replace(spec(f"cms-json-{version}-large"), target_size=300))
