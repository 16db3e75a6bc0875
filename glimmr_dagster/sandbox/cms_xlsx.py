"""CMS standard-charge templates saved as Excel workbooks (XLSX), tall and wide, v2.2 and v3.0.

The sheet holds exactly what the CSV of the same spec holds (rows 1-2 general data, row 3 the
item headers, data from row 4), the way a spreadsheet stores it: amounts as numbers, codes as text
(so revenue code 0360 keeps its zero), and, in some hospitals' workbooks, `last_updated_on` as a
real date cell, the attestation as a boolean cell and an instructions sheet before the data.

Workbooks are written with xlsxwriter and are byte-for-byte reproducible: the document
properties carry the publication time rather than the time of writing.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass

import xlsxwriter

from .charges import AFFIRMATION_V2, ATTESTATION_V3, file_style, priced_rows
from .cms_csv import CsvLayout
from .content import BytesContent, ContentFormat, ContentSpec, register_format
from .seeding import derive_rng

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SHEET_NAMES = ("Standard Charges", "Sheet1", "MRF", "Price Transparency", "standardcharges")
INSTRUCTIONS = (
    "This workbook lists the hospital's standard charges as required by 45 CFR 180.50.",
    "The charges are on the next sheet, in the CMS template layout.",
)


@dataclass(frozen=True)
class WorkbookStyle:
    sheet_name: str
    instructions_first: bool
    date_cell: bool
    boolean_cell: bool


def workbook_style(spec: ContentSpec) -> WorkbookStyle:
    rng = derive_rng(spec.seed, spec.fileid, "xlsx-style")
    return WorkbookStyle(sheet_name=rng.choice(SHEET_NAMES), instructions_first=rng.random() < 0.25,
                         date_cell=rng.random() < 0.4, boolean_cell=rng.random() < 0.4)


def render_cms_xlsx(spec: ContentSpec, version: str, layout: str) -> bytes:
    style = file_style(spec, layout)
    sheet_style = workbook_style(spec)
    cms_layout = CsvLayout(version, layout, style, quote=False)
    rows, modifiers = priced_rows(spec, version, style, layout)
    numeric = cms_layout.numeric_positions

    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_numbers": False,
                                            "strings_to_formulas": False, "strings_to_urls": False})
    published = dt.datetime.fromtimestamp(int(spec.published_at), dt.timezone.utc).replace(tzinfo=None)
    workbook.set_properties({"title": "Standard charges", "author": spec.hospital.hospital_name,
                             "created": published})
    bold = workbook.add_format({"bold": True})
    date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
    if sheet_style.instructions_first:
        notes = workbook.add_worksheet("Instructions")
        for number, line in enumerate(INSTRUCTIONS):
            notes.write_string(number, 0, line)
    sheet = workbook.add_worksheet(sheet_style.sheet_name)

    names, values, columns = cms_layout.header_cells(spec)
    write_string = sheet.write_string
    write_number = sheet.write_number
    for position, name in enumerate(names):
        if name:
            write_string(0, position, name, bold)
    date_at = names.index("last_updated_on")
    statement_at = names.index(AFFIRMATION_V2 if version == "2.2" else ATTESTATION_V3)
    for position, value in enumerate(values):
        if position == date_at and sheet_style.date_cell:
            sheet.write_datetime(1, position, dt.datetime.combine(spec.published_date, dt.time()), date_format)
        elif position == statement_at and sheet_style.boolean_cell:
            sheet.write_boolean(1, position, value.lower() == "true")
        elif value:
            write_string(1, position, value)
    for position, name in enumerate(columns):
        write_string(2, position, name, bold)
    sheet.freeze_panes(3, 0)

    row_number = 3
    for priced in (*rows, *modifiers):
        for cells in cms_layout.cell_rows(priced):
            for position, value in enumerate(cells):
                if not value:
                    continue
                if position in numeric:
                    write_number(row_number, position, float(value))
                else:
                    write_string(row_number, position, value)
            row_number += 1
    workbook.close()
    return buffer.getvalue()


for _version in ("2.2", "3.0"):
    for _layout in ("tall", "wide"):
        register_format(ContentFormat(
            name=f"cms-xlsx-{_version}-{_layout}",
            suffix="xlsx",
            media_type=XLSX_MEDIA_TYPE,
            build=lambda spec, version=_version, layout=_layout: BytesContent(render_cms_xlsx(spec, version, layout)),
            description=f"CMS v{_version} {_layout} template as an Excel workbook (the CSV's rows, typed cells)",
            tags=("cms", "xlsx", _version, _layout),
            family="xlsx",
            cms_version=_version,
            layout=_layout,
        ))
