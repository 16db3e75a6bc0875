"""CMS templates saved as XLSX (written here with xlsxwriter, the way spreadsheet tools save them)."""

from __future__ import annotations

import csv
import datetime as dt

import pytest
import xlsxwriter

from glimmr_dagster.lib.parsing import NotACmsTemplateError

from .conftest import fixture_path


def _workbook(path, rows, *, numbers=True, sheets_before=0):
    book = xlsxwriter.Workbook(path)
    for i in range(sheets_before):
        book.add_worksheet(f"Notes {i}").write(0, 0, "Read me first")
    sheet = book.add_worksheet("Standard Charges")
    date_format = book.add_format({"num_format": "m/d/yyyy"})
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if r == 1 and value == "4/1/2026":
                sheet.write_datetime(r, c, dt.datetime(2026, 4, 1), date_format)
            elif r == 1 and value == "TRUE":
                sheet.write_boolean(r, c, True)
            elif numbers and r >= 3 and value and _is_number(value):
                sheet.write_number(r, c, float(value))
            elif value != "":
                sheet.write_string(r, c, value)
    book.close()
    return path


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return not value.startswith("0") or value == "0" or value.startswith("0.")


def test_v3_tall_example_as_xlsx_matches_the_csv(parse, tmp_path):
    source = fixture_path("examples/v3.0/V3.0.0_Tall_CSV_Format_Example.csv")
    rows = list(csv.reader(source.open(encoding="utf-8-sig", newline="")))
    xlsx = _workbook(tmp_path / "tall.xlsx", rows, sheets_before=1)
    from_xlsx = parse(xlsx, kind_hint="xlsx")
    from_csv = parse(source)
    result = from_xlsx.result
    assert (result.format, result.layout, result.sheet) == ("xlsx", "xlsx-tall", "Standard Charges")
    assert result.rows_written == 45
    assert result.metadata.last_updated_on == dt.date(2026, 4, 1)  # a real spreadsheet date cell
    assert result.metadata.attestation_confirmed is True  # a boolean cell
    assert result.metadata.license_number == "50056"  # typed as text in the file
    compare = ["source_row", "description", "codes", "primary_code", "setting", "gross_charge", "negotiated_dollar",
               "negotiated_percentage", "median_amount", "allowed_amount_count", "methodology", "modifiers"]
    assert from_xlsx.table.select(compare).to_dicts() == from_csv.table.select(compare).to_dicts()
    assert "workbook has 2 sheets; parsed 'Standard Charges'" in result.warnings


def test_v3_wide_example_as_xlsx(parse, tmp_path):
    source = fixture_path("examples/v3.0/V3.0.0_Wide_CSV_Format_Example.csv")
    rows = list(csv.reader(source.open(encoding="utf-8-sig", newline="")))
    parsed = parse(_workbook(tmp_path / "wide.xlsx", rows))
    assert (parsed.result.layout, parsed.result.rows_read, parsed.result.rows_written) == ("xlsx-wide", 26, 45)
    # Revenue code 611 stored as a number loses its leading zero in a spreadsheet; the code is padded.
    assert parsed.table.row(0, named=True)["codes"] == [{"type": "RC", "code": "0611"}, {"type": "CPT", "code": "70551"}]


def test_workbook_that_is_not_a_cms_template(parse, tmp_path):
    path = _workbook(tmp_path / "legacy.xlsx", [["Charge Code", "Description", "Price"], ["1", "Room", "100"]])
    with pytest.raises(NotACmsTemplateError, match=r"sheet 'Standard Charges' rows 1-3: not a CMS template file"):
        parse(path)
