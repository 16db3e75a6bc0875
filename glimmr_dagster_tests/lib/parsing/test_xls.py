"""CMS templates saved as legacy .xls (BIFF8), written here with xlwt."""

from __future__ import annotations

import csv

import xlwt

from .conftest import fixture_path


def test_v3_tall_example_as_xls_matches_the_csv(parse, tmp_path):
    source = fixture_path("examples/v3.0/V3.0.0_Tall_CSV_Format_Example.csv")
    rows = list(csv.reader(source.open(encoding="utf-8-sig", newline="")))
    book = xlwt.Workbook()
    sheet = book.add_sheet("Standard Charges")
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value != "":
                # Text everywhere, as a hospital export typically stores it (and codes keep zeros).
                sheet.write(r, c, value[:32767])
    path = tmp_path / "tall.xls"
    book.save(str(path))
    assert path.read_bytes()[:8] == bytes.fromhex("d0cf11e0a1b11ae1")  # an OLE2 compound file

    from_xls = parse(path, kind_hint="xls")
    from_csv = parse(source)
    assert (from_xls.result.format, from_xls.result.layout) == ("xls", "xls-tall")
    # The example's 45 data rows (rows 4-48), as in the CSV.
    assert from_xls.result.rows_written == 45 and from_xls.result.rows_rejected == 0
    compare = ["source_row", "description", "codes", "primary_code", "setting", "gross_charge",
               "negotiated_dollar", "median_amount", "allowed_amount_count", "methodology"]
    assert from_xls.table.select(compare).to_dicts() == from_csv.table.select(compare).to_dicts()
