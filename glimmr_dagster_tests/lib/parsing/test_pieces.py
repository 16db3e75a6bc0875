"""The parsing library's building blocks: encodings, duplicate memory, schema, metadata, atomicity."""

from __future__ import annotations

import json
import random

import polars as pl
import pytest

from glimmr_dagster.lib.parsing import (
    COLUMN_DESCRIPTIONS,
    PARSER_VERSION,
    PRICE_TABLE_SCHEMA,
    SCHEMA_VERSION,
    ParseError,
    Provenance,
    parse_price_file,
)
from glimmr_dagster.lib.parsing.dedup import SeenRows
from glimmr_dagster.lib.parsing.encoding import sniff_text_head, transcode_to_utf8
from glimmr_dagster.lib.parsing.errors import cell_name, column_letter
from glimmr_dagster.lib.parsing.schema import schema_markdown

from .conftest import REPO_ROOT, fixture_path


def test_seen_rows_finds_repeats_within_and_across_batches():
    seen = SeenRows()
    big = 2**64 - 5  # hashes use the whole unsigned range
    assert seen.first_occurrences(pl.Series([big, 3, big, 7], dtype=pl.UInt64)).to_list() == [True, True, False, True]
    assert seen.first_occurrences(pl.Series([7, 1, 3, 1, 2**63], dtype=pl.UInt64)).to_list() == [False, True, False, False, True]
    assert seen.first_occurrences(pl.Series([], dtype=pl.UInt64)).to_list() == []
    assert seen.size == 5


def assert_seen_rows_match_a_python_set(rng: random.Random, batches: int, distinct: int, longest: int, step: int) -> None:
    """SeenRows over random batches (values: multiples of `step` below `distinct * step`) says
    what a Python set says, value by value."""
    seen, reference = SeenRows(), set()
    for _ in range(batches):
        batch = [rng.randrange(distinct) * step for _ in range(rng.randrange(0, longest))]
        expected = []
        for value in batch:
            expected.append(value not in reference)
            reference.add(value)
        assert seen.first_occurrences(pl.Series(batch, dtype=pl.UInt64)).to_list() == expected
    assert seen.size == len(reference)


def test_seen_rows_against_a_python_set():
    assert_seen_rows_match_a_python_set(random.Random(7), batches=40, distinct=5_000, longest=400, step=2**51)


def test_encoding_sniff_and_transcode(tmp_path):
    utf8 = tmp_path / "u.csv"
    utf8.write_bytes("a,b\ncafé,1\n".encode())
    assert sniff_text_head(utf8).name == "utf-8"
    assert not sniff_text_head(utf8).needs_transcoding
    # A multi-byte character split across the check's chunk boundary is still valid UTF-8.
    split = tmp_path / "split.csv"
    split.write_bytes(b"x" * (16 * 1024 * 1024 - 1) + "é\n".encode())
    assert sniff_text_head(split).is_utf8
    latin = tmp_path / "l.csv"
    latin.write_bytes(b"caf\xe9 \x81\n")  # 0x81 is undefined in cp1252: read as latin-1
    encoding = sniff_text_head(latin)
    assert encoding.needs_transcoding
    out = transcode_to_utf8(latin, tmp_path / "out.csv", encoding)
    assert (out.encoding, out.fallback_bytes) == ("cp1252", 2)
    assert (tmp_path / "out.csv").read_bytes().decode("utf-8") == "café \x81\n"
    utf16 = tmp_path / "w.csv"
    utf16.write_bytes("a,b\r\nü,1\r\n".encode("utf-16"))
    out = transcode_to_utf8(utf16, tmp_path / "out16.csv", sniff_text_head(utf16))
    assert out.encoding == "utf-16"
    assert (tmp_path / "out16.csv").read_bytes().decode("utf-8") == "a,b\r\nü,1\r\n"


def test_utf16_csv_parses(parse, write):
    text = "hospital_name,version\r\nH,3.0.0\r\ndescription,code|1,code|1|type,setting,standard_charge|gross\r\nÜbung,70551,CPT,outpatient,5\r\n"
    parsed = parse(write("utf16.csv", text.encode("utf-16")))
    assert parsed.result.encoding == "utf-16"
    assert parsed.table.row(0, named=True)["description"] == "Übung"


def test_cell_names_are_spreadsheet_style():
    assert [column_letter(i) for i in (0, 25, 26, 27, 701, 702)] == ["A", "Z", "AA", "AB", "ZZ", "AAA"]
    assert cell_name(17, 10) == "R10"


def test_schema_document_is_current():
    document = (REPO_ROOT / "glimmr_dagster" / "lib" / "parsing" / "SCHEMA.md").read_text(encoding="utf-8")
    assert document == schema_markdown(), "regenerate: python -m glimmr_dagster.lib.parsing.schema > glimmr_dagster/lib/parsing/SCHEMA.md"
    assert set(COLUMN_DESCRIPTIONS) == set(PRICE_TABLE_SCHEMA.names)
    assert "state" not in PRICE_TABLE_SCHEMA.names and "hospital" not in PRICE_TABLE_SCHEMA.names


def test_metadata_is_json_friendly_and_names_what_others_rely_on(parse):
    parsed = parse(fixture_path("examples/v3.0/V3.0.0_Tall_CSV_Format_Example.csv"))
    metadata = parsed.result.to_metadata()
    json.dumps(metadata)  # Dagster metadata values must serialize
    assert (metadata["rows_read"], metadata["rows_written"], metadata["rows_rejected"]) == (45, 45, 0)
    assert metadata["parser_version"] == PARSER_VERSION and metadata["schema_version"] == SCHEMA_VERSION
    assert metadata["file"]["last_updated_on"] == "2026-04-01"
    assert metadata["payer_count"] == 2 and metadata["payers"] == ["Platform Health Insurance", "Region Health Insurance"]
    table = parsed.table
    assert table["parser_version"].cast(str).unique().to_list() == [PARSER_VERSION]
    assert table["hospital_key"].cast(str).unique().to_list() == ["CA-TEST"]


def test_nothing_is_written_when_parsing_fails(tmp_path):
    source = tmp_path / "bad.json"
    source.write_text('{"hospital_name": "H", "standard_charge_information": [{"description": "A"}, {"description": ')
    out = tmp_path / "lake" / "x.parquet"
    with pytest.raises(ParseError):
        parse_price_file(source, out, provenance=Provenance("CA-1", "ab"))
    assert not out.exists()
    assert list(out.parent.iterdir()) == []


def test_a_reparse_replaces_the_file_atomically(tmp_path):
    source = fixture_path("examples/v3.0/V3.0.0_Tall_CSV_Format_Example.csv")
    out = tmp_path / "lake" / "x.parquet"
    first = parse_price_file(source, out, provenance=Provenance("CA-1", "ab"))
    second = parse_price_file(source, out, provenance=Provenance("CA-1", "ab"))
    assert first.rows_written == second.rows_written == pl.read_parquet(out).height
    assert [p.name for p in out.parent.iterdir()] == ["x.parquet"]
