"""CMS templates saved as spreadsheets (XLSX or XLS) → the standard-charges table, via fastexcel.

The first sheet whose first rows hold a CMS item header is parsed; every cell is read as text
(numbers as the spreadsheet displays them, dates as serial day numbers, which the date parser
understands) and the rows then go through the same code as CSV rows. A spreadsheet holds at most
about a million rows, so the sheet is loaded whole and processed in slices.
"""

from __future__ import annotations

from pathlib import Path

import fastexcel
import polars as pl

from .errors import NotACmsTemplateError, ParseError
from .frames import RowConstants
from .headers import describe_not_cms, find_item_header, template_header
from .result import ParseResult, Provenance
from .tabular import CmsRowProcessor, finish_payer_plans, source_column, template_result
from .writer import write_table

SLICE_CELLS = 5_000_000


def _rows(frame: pl.DataFrame, count: int) -> list[list[str]]:
    rows = []
    for values in frame.head(count).iter_rows():
        rows.append(["" if v is None else str(v) for v in values])
    return rows


def parse_cms_workbook(
    source_path: Path, out_path: Path, *, kind: str, provenance: Provenance, parser_version: str,
    work_dir: Path,
) -> ParseResult:
    try:
        reader = fastexcel.read_excel(source_path)
    except Exception as exc:  # fastexcel raises its own error types per format problem
        raise ParseError(source_path, None, f"not a readable {kind.upper()} workbook: {exc}") from exc
    sheets = reader.sheet_names
    chosen = None
    for index, name in enumerate(sheets):
        try:
            frame = reader.load_sheet(index, header_row=None, dtypes="string", skip_rows=0).to_polars()
        except Exception as exc:
            raise ParseError(source_path, f"sheet '{name}'", f"could not be read: {exc}") from exc
        rows = _rows(frame, 4)
        header_index = find_item_header(rows)
        if header_index is not None:
            chosen = (name, frame, rows, header_index)
            break
        first_rows = rows
    if chosen is None:
        if not sheets:
            raise NotACmsTemplateError(source_path, None, "the workbook has no sheets")
        where, detail = describe_not_cms(first_rows)
        raise NotACmsTemplateError(source_path, f"sheet '{sheets[0]}' {where}", detail)
    name, frame, rows, header_index = chosen
    header_row_number = header_index + 1
    columns, metadata, v3 = template_header(source_path, rows, header_index)
    result = template_result(
        source_path, kind, columns, metadata, v3, header_index,
        encoding="binary", parser_version=parser_version, sheet=name,
    )
    if len(sheets) > 1:
        result.warnings.append(f"workbook has {len(sheets)} sheets; parsed '{name}'")
    width = frame.width
    data = frame.slice(header_row_number).rename({old: source_column(i) for i, old in enumerate(frame.columns)})
    data = data.with_columns(
        [pl.col(c).str.strip_chars().replace("", None) for c in data.columns]
    ).with_row_index("_row", offset=header_row_number + 1)
    constants = RowConstants.of(provenance, result)
    processor = CmsRowProcessor(columns, result, constants, width)
    step = max(1_000, SLICE_CELLS // max(width, 1))

    def batches():
        for start in range(0, data.height, step):
            raw = data.slice(start, step).with_columns(processor.row_expressions())
            yield from processor.process(raw.with_columns(pl.col("_row").cast(pl.Int64)))
        yield from processor.finish()

    write_table(batches(), out_path, parser_version=parser_version)
    finish_payer_plans(processor)
    return result
