"""CMS CSV templates (v2.0–v3.0, tall and wide) → the standard-charges table.

The header rows are read with Python's csv module; the data rows with polars' streaming CSV
reader, in batches sized by the number of columns (a 1,300-column wide file gets a couple of
thousand rows per batch), so memory stays flat whatever the file size. Rows longer than the
header keep their extra cells in spare columns, counted as not carried; if a row is longer
still, the read restarts with more spare columns rather than dropping cells.

Encoding: only the head of the file is checked before reading (see
`encoding.sniff_text_head`); polars refuses bytes that are not UTF-8 anywhere in a cell, and
that error restarts the read from a transcoded copy. A valid UTF-8 file (nearly all of them) is
thus read once, not twice.
"""

from __future__ import annotations

import contextlib
import csv
import os
import re
from pathlib import Path

import polars as pl

from .encoding import NotUtf8Error, parse_as_utf8
from .errors import NotACmsTemplateError, ParseError, column_letter
from .frames import NUMBER_FIELDS, RowConstants
from .headers import describe_not_cms, find_item_header, template_header
from .result import ParseResult, Provenance
from .tabular import CmsRowProcessor, finish_payer_plans, source_column, template_result
from .writer import write_table

# Cells that are empty once read: unquoted empty fields are null already; "" (quoted) and
# whitespace-only cells are not, and files that quote every field are common.
EMPTY_CELLS = ["", " ", "  ", "   ", "\t"]
# Cells per batch: large batches make few queries (see tabular), while the text in flight stays
# around a hundred MB whatever the width. A wide file's row becomes dozens of table rows, so
# its batches hold fewer source cells (and several are normalized together, see tabular).
CELLS_PER_BATCH = 6_000_000
WIDE_CELLS_PER_BATCH = 2_500_000
MIN_BATCH_ROWS, MAX_BATCH_ROWS = 1_000, 400_000
# Bytes polars' CSV reader parses at a time (see _csv_read_chunk): a wide file's thousand
# columns make each chunk's parsed form large, a tall file's few columns let it read more at once.
READ_CHUNK_BYTES = 4 << 20
WIDE_READ_CHUNK_BYTES = 1 << 20
INITIAL_SPARE_COLUMNS = 2
MAX_SPARE_COLUMNS = 4096
# Rows read as text to judge which number columns of a tall file hold only plain numbers (see
# _plain_number_columns).
NUMBER_SAMPLE_ROWS = 20_000


@contextlib.contextmanager
def _csv_read_chunk(size: int):
    """Polars' streaming CSV reader parses the file in chunks of POLARS_CSV_CHUNK_SIZE bytes
    (read when a scan starts). With its default, the parsed chunks in flight take 500 to 800 MB
    (a wide file's thousands of columns, or a tall file read ahead while batches are normalized);
    chunks of a few MB keep that to a hundred or two, and parse no slower (measured: less CPU, as
    the chunks stay in cache). A value set by the user is left alone."""
    if "POLARS_CSV_CHUNK_SIZE" in os.environ:
        yield
        return
    os.environ["POLARS_CSV_CHUNK_SIZE"] = str(size)
    try:
        yield
    finally:
        os.environ.pop("POLARS_CSV_CHUNK_SIZE", None)


class _RowsLongerThanSchema(Exception):
    pass


class _NotAPlainNumber(Exception):
    """A column read as numbers met a value that is not one: the file is read again as text."""


_COLUMN = re.compile(r"at column 'c(\d+)'")
_FIELD = re.compile(r"Field `(.{0,60})", re.S)


def _describe_csv_error(text: str, columns, first_row: int) -> tuple[str, str]:
    """Location and explanation of a CSV syntax error reported by polars."""
    where = f"row {first_row} or later"
    m = _COLUMN.search(text)
    if m:
        index = int(m.group(1))
        where = f"column {column_letter(index)} ({columns.label(index)!r}), {where}"
    if "not properly escaped" in text:
        field = _FIELD.search(text)
        start = field.group(1).split("\n")[0] if field else ""
        return where, (
            "a quoted cell is never closed (expected a closing double quote, and quotes inside a "
            f"cell doubled as \"\"); the cell starts with {start!r}"
        )
    first_line = text.strip().splitlines()[0] if text.strip() else "unknown error"
    return where, f"not readable as CSV: {first_line}"


def read_leading_rows(path: Path, count: int = 4) -> list[list[str]]:
    rows: list[list[str]] = []
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            for row in csv.reader(handle):
                rows.append(row)
                if len(rows) >= count:
                    break
    except csv.Error as exc:
        raise ParseError(path, f"row {len(rows) + 1}", f"not readable as CSV: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise NotUtf8Error() from exc
    return rows


def parse_cms_csv(
    source_path: Path, out_path: Path, *, provenance: Provenance, parser_version: str,
    work_dir: Path,
) -> ParseResult:
    # Only the head is checked up front; polars validates the rest as it reads.
    return parse_as_utf8(
        _parse_text, source_path, out_path, work_dir=work_dir, provenance=provenance, parser_version=parser_version
    )


def _parse_text(
    source_path: Path, text_path: Path, out_path: Path, encoding_name: str, fallback_bytes: int, *,
    provenance: Provenance, parser_version: str,
) -> ParseResult:
    rows = read_leading_rows(text_path)
    header_index = find_item_header(rows)
    if header_index is None:
        raise NotACmsTemplateError(source_path, *describe_not_cms(rows))
    header_row_number = header_index + 1
    columns, metadata, v3 = template_header(source_path, rows, header_index)
    width = max(len(r) for r in rows[: header_index + 1])
    spare = INITIAL_SPARE_COLUMNS
    read_numbers = True
    while True:
        result = template_result(
            source_path, "csv", columns, metadata, v3, header_index,
            encoding=encoding_name, parser_version=parser_version, transcoded_bytes=fallback_bytes,
        )
        try:
            _read_rows(source_path, text_path, out_path, columns, result, provenance, header_row_number, width + spare, read_numbers)
            return result
        except _NotAPlainNumber:
            read_numbers = False
        except _RowsLongerThanSchema:
            if spare >= MAX_SPARE_COLUMNS:
                raise ParseError(
                    source_path, None,
                    f"a data row has more than {width + spare} cells; the header has {len(columns.headers)}",
                ) from None
            spare *= 8


def _plain_number_columns(text_path: Path, header_row_number: int, cells: list[str], candidates: list[str]) -> set[str]:
    """The number columns whose first rows hold only plain, finite numbers (or nothing).

    Polars parses such a column straight into floats, which costs less than reading it as text
    and converting it. A column with "$1,234", "N/A" or "inf" in these rows stays text, so that
    the normalizer sees (and accounts for) what was published; one that turns out to hold such a
    value further down makes the whole file be read again as text (see _NotAPlainNumber).
    """
    if not candidates:
        return set()
    try:
        sample = pl.read_csv(
            text_path, has_header=False, skip_rows=header_row_number, n_rows=NUMBER_SAMPLE_ROWS,
            schema={name: pl.String for name in cells}, missing_columns="insert",
            null_values=EMPTY_CELLS, raise_if_empty=False,
        )
    except pl.exceptions.PolarsError:
        return set()  # the full read will say what is wrong
    failed = sample.select(
        (pl.col(c).is_not_null() & ~pl.col(c).cast(pl.Float64, strict=False).is_finite().fill_null(False)).any()
        for c in candidates
    ).row(0)
    return {c for c, bad in zip(candidates, failed) if not bad}


def _read_rows(
    source_path: Path, text_path: Path, out_path: Path, columns, result: ParseResult,
    provenance: Provenance, header_row_number: int, width: int, read_numbers: bool,
) -> None:
    constants = RowConstants.of(provenance, result)
    cells = [source_column(i) for i in range(width)]
    numbers: set[str] = set()
    if read_numbers and not columns.is_wide:
        candidates = [source_column(i) for name, i in columns.item.items() if name in NUMBER_FIELDS and i < width]
        numbers = _plain_number_columns(text_path, header_row_number, cells, candidates)
    schema = {name: pl.Float64 if name in numbers else pl.String for name in cells}
    processor = CmsRowProcessor(columns, result, constants, width, schema)
    scan = pl.scan_csv(
        text_path,
        has_header=False,
        skip_rows=header_row_number,
        schema=schema,
        missing_columns="insert",
        null_values=EMPTY_CELLS,
        row_index_name="_row",
        row_index_offset=header_row_number + 1,
        raise_if_empty=False,
    ).with_columns(processor.row_expressions())
    cells_per_batch = WIDE_CELLS_PER_BATCH if columns.is_wide else CELLS_PER_BATCH
    batch_rows = max(MIN_BATCH_ROWS, min(MAX_BATCH_ROWS, cells_per_batch // max(width, 1)))

    def batches():
        last_row = header_row_number
        try:
            for raw in scan.collect_batches(chunk_size=batch_rows):
                if raw.height:
                    last_row = int(raw["_row"][-1])
                    # The reader hands over a batch in dozens of chunks (one per read chunk); as
                    # one, each of the batch's queries runs markedly faster (a tenth less CPU).
                    yield from processor.process(raw.rechunk())
            yield from processor.finish()
        except pl.exceptions.PolarsError as exc:
            text = str(exc)
            if "more fields than defined" in text:
                raise _RowsLongerThanSchema() from exc
            if numbers and "as dtype `f64`" in text:
                raise _NotAPlainNumber() from exc
            if "invalid utf-8" in text.lower():
                raise NotUtf8Error() from exc
            location, detail = _describe_csv_error(text, columns, last_row + 1)
            raise ParseError(source_path, location, detail) from exc

    with _csv_read_chunk(WIDE_READ_CHUNK_BYTES if columns.is_wide else READ_CHUNK_BYTES):
        write_table(batches(), out_path, parser_version=result.parser_version)
    finish_payer_plans(processor)
