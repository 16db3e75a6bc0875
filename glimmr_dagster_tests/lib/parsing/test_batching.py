"""The parsers' fast paths give the same table as the plain ones: many small batches against one,
the currency shortcut against normalize.parse_number, a late non-UTF-8 byte against a checked one."""

from __future__ import annotations

import json
import random

import polars as pl
import pytest

from glimmr_dagster.lib import normalize as nz
from glimmr_dagster.lib.parsing import csv_cms, encoding, json_cms, tabular
from glimmr_dagster.lib.parsing.errors import ParseError
from glimmr_dagster.lib.parsing.frames import _DOLLARS

from .test_csv_quirks import MRI, TALL_HEADER, V3_ROW1, V3_ROW2, WIDE_HEADER, tall
from .test_pieces import assert_seen_rows_match_a_python_set


def _same(first, second) -> None:
    """Two parses of one file: equal tables and equal accounting."""
    a, b = first.result.to_metadata(), second.result.to_metadata()
    for metadata in (a, b):
        metadata.pop("seconds")
    assert a == b
    assert first.result.codes_by_type == second.result.codes_by_type
    assert first.result.unknown_values == second.result.unknown_values
    cast = [pl.col(pl.Categorical).cast(pl.String)]
    assert first.table.with_columns(cast).equals(second.table.with_columns(cast))


def _small_batches(monkeypatch, rows: int = 3) -> None:
    monkeypatch.setattr(csv_cms, "MIN_BATCH_ROWS", 1)
    monkeypatch.setattr(csv_cms, "CELLS_PER_BATCH", rows * 20)
    monkeypatch.setattr(csv_cms, "WIDE_CELLS_PER_BATCH", rows * 20)
    monkeypatch.setattr(tabular, "WIDE_ROWS_PER_TABLE", 4)


def test_dollar_amounts_read_in_polars_match_parse_number():
    rng = random.Random(11)
    texts = ["$1,234.50", "$80", "$0.5", "$12,345,678.901", "$99,999,999.99", "$1,000,000", "$0", "$00012", "$1" + "0" * 400]
    for _ in range(3000):
        digits = str(rng.randrange(10 ** rng.randrange(1, 12)))
        if rng.random() < 0.5:
            digits = f"{int(digits):,}"
        if rng.random() < 0.5:
            digits += "." + "".join(rng.choice("0123456789") for _ in range(rng.randrange(1, 18)))
        texts.append("$" + digits)
    texts += ["$1,23", "$1,234.", "$.5", "$ 12", "$12,3456", "12", "$-1", "$1e3", "$1,234.50 "]
    column = pl.Series(texts)
    amounts = column.str.replace_all(r"[$,]", "").cast(pl.Float64, strict=False)
    taken = column.str.contains(_DOLLARS) & amounts.is_finite()
    assert taken.sum() > 3000
    for text, amount, fast in zip(texts, amounts.to_list(), taken.to_list()):
        if fast:
            parsed = nz.parse_number(text)
            assert parsed.status is nz.NumberStatus.OK and repr(parsed.value) == repr(amount), text


def test_a_non_utf8_byte_after_the_checked_head_restarts_the_read_transcoded(parse, write, monkeypatch):
    monkeypatch.setattr(encoding, "CHUNK_BYTES", 64)  # the head check sees only the first 64 bytes
    content = tall(MRI, MRI.replace("MRI brain", "Caf\u00e9 visit")).encode() + b"Add\x92L dose,J1450,HCPCS,,,outpatient,5,4,Aetna,PPO,3,,,,3,3,fee schedule,\n"
    path = write("late.csv", content)
    parsed = parse(path)
    assert (parsed.result.encoding, parsed.result.transcoded_bytes) == ("utf-8+cp1252", 1)
    assert parsed.table["description"].to_list() == ["MRI brain", "Café visit", "Add’L dose"]
    assert parsed.result.rows_written == 3
    assert [p.name for p in parsed.out_path.parent.iterdir()] == [parsed.out_path.name]


@pytest.mark.parametrize("where", ["item", "root after the items"])
def test_a_non_utf8_byte_late_in_json_restarts_the_read_transcoded(parse, write, monkeypatch, where):
    monkeypatch.setattr(encoding, "CHUNK_BYTES", 64)  # the head check sees only the first 64 bytes
    items = [{"description": f"Item {i}", "standard_charges": [{"setting": "outpatient", "gross_charge": 10 + i}]} for i in range(3)]
    document = json.dumps({"hospital_name": "H", "version": "3.0.0", "standard_charge_information": items, "license_information": {"license_number": "L1", "state": "CA"}})
    late = b"Add\x92L dose" if where == "item" else b"L\x92one"
    content = document.encode().replace(b"Item 2" if where == "item" else b"L1", late)
    parsed = parse(write("late.json", content))
    assert (parsed.result.encoding, parsed.result.transcoded_bytes) == ("cp1252", 1)  # every other byte is ASCII
    assert parsed.table["description"].to_list() == ["Item 0", "Item 1", "Add\u2019L dose" if where == "item" else "Item 2"]
    assert parsed.table["license_number"].to_list() == ["L1" if where == "item" else "L\u2019one"] * 3
    assert [p.name for p in parsed.out_path.parent.iterdir()] == [parsed.out_path.name]


def test_number_columns_read_as_numbers_give_the_same_table_as_text(parse, write, monkeypatch):
    # The first rows' number columns are plain, so they are read as numbers; a "$" amount further
    # down reads the file again as text, and NaN/inf read as numbers are accounted as their text is.
    plain = [MRI.replace("1200", str(1200 + i)) for i in range(4)]
    late = [MRI.replace("1200", '"$1,234.50"'), MRI.replace("1080", "NaN"), MRI.replace("250", "inf"), MRI.replace("1200", "999999999")]
    path = write("numbers.csv", tall(*plain, *late))
    monkeypatch.setattr(csv_cms, "NUMBER_SAMPLE_ROWS", 2)
    sampled = parse(path)
    monkeypatch.setattr(csv_cms, "NUMBER_SAMPLE_ROWS", 100)
    whole = parse(path)  # the "$" is in the sample: that column is read as text from the start
    _same(sampled, whole)
    assert whole.table["gross_charge"].to_list() == [1200.0, 1201.0, 1202.0, 1203.0, 1234.5, 1200.0, 1200.0, 999999999.0]
    no_dollar = write("no-dollar.csv", tall(*plain, *late[1:]))
    monkeypatch.setattr(csv_cms, "NUMBER_SAMPLE_ROWS", 2)
    as_numbers = parse(no_dollar)  # NaN and inf after the sample: read as numbers all along
    assert as_numbers.table["discounted_cash"].null_count() == 1
    assert as_numbers.table["deidentified_min"].null_count() == 1
    monkeypatch.setattr(csv_cms, "NUMBER_SAMPLE_ROWS", 100)
    _same(as_numbers, parse(no_dollar))
    result = as_numbers.result
    assert dict(result.missing_markers) == {"standard_charge|discounted_cash": 1}
    assert dict(result.cells_not_carried) == {"standard_charge|min": 1}
    assert result.flags["not_a_number:deidentified_min"] == 1
    assert result.placeholders == {"standard_charge|gross": 1}


def _tall_file() -> str:
    rows = []
    for item in range(12):
        for payer in ("Aetna", "Cigna", " BCBS [1] "):
            cpt = ["99213", "1", "j1450", "0093-8739-01"][item % 4]
            kind = ["CPT", "MS-DRG", "HCPCS II", "NDC"][item % 4]
            gross = ["100", "$1,234.50", "N/A", "999999999"][item % 4]
            rows.append(f"Item {item},{cpt},{kind},450,REV,{['outpatient', 'IP', 'Emergency'][item % 3]},{gross},80,{payer},PPO,90,,,,90,90,{['fee schedule', 'capitation'][item % 2]},")
    rows.insert(7, rows[2])  # a duplicate a batch or two later
    rows.insert(20, "")  # a blank row
    rows.append(rows[0])  # a duplicate at the end
    return tall(*rows)


def test_tall_file_in_many_small_batches_gives_the_same_table(parse, write, monkeypatch):
    path = write("tall.csv", _tall_file())
    whole = parse(path)
    _small_batches(monkeypatch)
    batched = parse(path)
    _same(whole, batched)
    assert batched.result.rejects_by_reason == {"duplicate_row": 2, "blank_row": 1}
    assert batched.result.rows_written == 36


def _wide_file() -> str:
    rows = [
        "Knee replacement,470,MS-DRG,inpatient,50000,30000,case rate,28000,14,31000,case rate,Carve-out applies,25000,case rate,,20000,40000",
        "Hip replacement,469,MS-DRG,inpatient,60000,,,,,,,,,,45000,45000,45000",
        "Room and board,0120,RC,inpatient,3000,,,,,,,,,,,,",
        # The Aetna block's value moved to the Cigna block: a different row, not a duplicate.
        "Hip replacement,469,MS-DRG,inpatient,60000,,,,,45000,,,,,,45000,45000",
        "Visit,99213,cpt4,IP,$1,234.50,N/A,capitation,999999999,5,,,,,,,10,20",
    ]
    rows = [r.replace("$1,234.50", '"$1,234.50"') for r in rows]
    rows = rows + [rows[1], ",,,,,,,,,,,,,,,,", rows[0]] + rows[2:]
    return tall(*rows, header=WIDE_HEADER)


def test_wide_file_in_many_small_batches_gives_the_same_table(parse, write, monkeypatch):
    path = write("wide.csv", _wide_file())
    whole = parse(path)
    _small_batches(monkeypatch, rows=1)
    batched = parse(path)
    _same(whole, batched)
    result = batched.result
    assert result.layout == "csv-wide"
    assert result.rejects_by_reason == {"duplicate_row": 5, "blank_row": 1}
    assert result.rows_read == result.source_rows_landed + result.rows_rejected == 11
    hip = {(r["payer_name"], r["negotiated_dollar"]) for r in batched.rows(description="Hip replacement")}
    assert hip == {("BlueCrossBlueShield", 45000.0), ("Cigna", 45000.0)}


def test_wide_rows_differing_in_one_cell_are_not_duplicates(parse, write):
    first = "MRI,70551,CPT,outpatient,400,fee schedule,300,case rate"
    header = "description,code|1,code|1|type,setting,standard_charge|Aetna|PPO|negotiated_dollar,standard_charge|Aetna|PPO|methodology,standard_charge|Cigna|HMO|negotiated_dollar,standard_charge|Cigna|HMO|methodology"
    swapped = "MRI,70551,CPT,outpatient,300,case rate,400,fee schedule"
    parsed = parse(write("wide-dups.csv", tall(first, swapped, first, header=header)))
    assert parsed.result.rejects_by_reason == {"duplicate_row": 1}
    assert parsed.result.rows_written == 4


PAYER = {"payer_name": "Aetna", "plan_name": "PPO", "standard_charge_dollar": 400, "methodology": "fee schedule"}


def _json_document() -> str:
    items = []
    for i in range(40):
        payers = [{**PAYER, "standard_charge_dollar": 100 + (i * 7 + k) % 13} for k in range(i % 4)]
        if i % 5 == 0:
            payers.append({**PAYER, "median_amount": None, "network": "Tier 1"})  # a null and an unknown key
        if i % 9 == 0:
            payers.append({})
        item = {"description": f"Item {i % 30}", "standard_charges": [{"setting": "outpatient", "gross_charge": 10 + i, "payers_information": payers}]}
        if i >= 3:  # the first items have no codes at all
            item["code_information"] = [{"code": str(100 + i), "type": "RC"}] + ([{"code": "99213", "type": "cpt"}] if i % 2 else [])
        items.append(item)
    items.append(items[10])
    return json.dumps({"hospital_name": "H", "version": "3.0.0", "standard_charge_information": items})


def test_json_in_many_small_batches_gives_the_same_table(parse, write, monkeypatch):
    path = write("doc.json", _json_document())
    whole = parse(path)
    monkeypatch.setattr(json_cms, "ROWS_PER_BATCH", 5)
    monkeypatch.setattr(json_cms, "PAYERS_PER_CONVERSION", 3)
    batched = parse(path)
    _same(whole, batched)
    result = batched.result
    # Eight items carry "network", and the repeated item 10 carries it again: JSON cells are
    # counted as they are read, before the repeat is dropped as a duplicate row.
    assert result.cells_not_carried == {"standard_charge_information[].standard_charges[].payers_information[].network": 9}
    assert result.codes_by_type["RC"] == 38
    first = batched.row(source_json_path="/standard_charge_information/0/standard_charges/0/payers_information/0")
    assert (first["codes"], first["primary_code"]) == (None, None)


def test_a_number_published_as_text_in_a_later_part_of_a_json_batch(parse, write, monkeypatch):
    # Payers are read in parts; one part reading a column as text makes the batch's column text.
    monkeypatch.setattr(json_cms, "PAYERS_PER_CONVERSION", 2)
    payers = [{**PAYER, "standard_charge_dollar": d} for d in (5, 6, "$1,234.50", 7, "N/A")]
    items = [{"description": "MRI", "standard_charges": [{"setting": "outpatient", "payers_information": payers}]}]
    parsed = parse(write("text-dollars.json", json.dumps({"hospital_name": "H", "version": "3.0.0", "standard_charge_information": items})))
    assert parsed.table["negotiated_dollar"].to_list() == [5.0, 6.0, 1234.5, 7.0, None]
    assert parsed.result.missing_markers == {"standard_charge_information[].standard_charges[].payers_information[].standard_charge_dollar": 1}


@pytest.mark.parametrize("chunk", [1, 7, 64])
def test_json_read_in_tiny_chunks_gives_the_same_table(parse, write, monkeypatch, chunk):
    # Every value and item boundary falls across chunk ends somewhere: numbers, literals,
    # strings, multi-byte characters, the whitespace between tokens.
    document = json.loads(_json_document())
    document["standard_charge_information"][3]["description"] = "Caf\u00e9 \u2013 \u00fcbung"
    document["modifier_information"] = [{"description": "Bilateral", "code": "50", "modifier_payer_information": []}]
    path = write("doc.json", json.dumps(document, indent=1))
    whole = parse(path)
    monkeypatch.setattr(json_cms, "TEXT_CHUNK_BYTES", chunk)
    _same(whole, parse(path))
    assert whole.result.rows_written > 40


@pytest.mark.parametrize(
    ("damage", "location", "message", "at"),
    [
        (lambda doc: doc.replace('"Item 7"', '"Item 7" x'), "/standard_charge_information/7", "Expecting ',' delimiter", lambda b: b.index(b" x") + 1),
        (lambda doc: doc.replace('"Caf\u00e9', '"Caf\u00e9 \\q'), "/standard_charge_information/3", "Invalid .escape", lambda b: b.index(b"\\q")),
        (lambda doc: doc[: doc.index('"Item 20"')], "/standard_charge_information/20", "Expecting value", len),
        (lambda doc: doc[: doc.index('"Item 20"') + 3], "/standard_charge_information/20", "Unterminated string", lambda b: b.index(b'"It', b.index(b"Item 19"))),
        (lambda doc: doc + " {}", "$", "expected the end of the file", lambda b: len(b) - 2),
    ],
)
def test_broken_json_fails_at_the_byte_it_breaks_whatever_the_chunks(parse, write, monkeypatch, damage, location, message, at):
    document = json.loads(_json_document())
    document["standard_charge_information"][3]["description"] = "Caf\u00e9"  # two bytes in UTF-8
    content = damage(json.dumps(document, ensure_ascii=False)).encode()
    path = write("broken.json", content)
    for chunk in (5, 4 * 1024 * 1024):
        monkeypatch.setattr(json_cms, "TEXT_CHUNK_BYTES", chunk)
        with pytest.raises(ParseError, match=message) as caught:
            parse(path)
        assert caught.value.location == f"{location} (byte {at(content)})"
    assert not list((path.parent.parent / "lake").glob("*.parquet"))


@pytest.mark.parametrize("cap", [3, 50])
def test_seen_rows_with_runs_that_stop_growing(monkeypatch, cap):
    from glimmr_dagster.lib.parsing import dedup

    monkeypatch.setattr(dedup, "MAX_MERGED_ROWS", cap)
    monkeypatch.setattr(dedup, "FAN_OUT", 2)
    assert_seen_rows_match_a_python_set(random.Random(cap), batches=60, distinct=400, longest=30, step=2**53)


def test_the_header_rows_alone_still_parse(parse, write):
    parsed = parse(write("header-only.csv", "\n".join([V3_ROW1, V3_ROW2, TALL_HEADER]) + "\n"))
    assert (parsed.result.rows_read, parsed.table.height) == (0, 0)
