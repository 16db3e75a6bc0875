"""The entry point: parse one acquired price file into the standard-charges table."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from .detect import Sniff, sniff_file
from .errors import NotACmsTemplateError
from .result import ParseResult, Provenance

# Bump when the table written for the same input changes (a new rule, a fixed bug, a new column);
# the pipeline re-parses files whose recorded parser version differs.
PARSER_VERSION = "1.0.1"

# A parser for files that are not in a CMS template (pre-2024 free-form files) registers here.
# It is offered the file after the CMS readers declined it, and returns None when the file is not
# one it handles either. Called as fallback(source_path, out_path, provenance=..., sniff=...,
# parser_version=..., work_dir=...).
FallbackParser = Callable[..., "ParseResult | None"]
FALLBACK_PARSERS: list[FallbackParser] = []


def parse_price_file(
    source_path: Path,
    out_path: Path,
    *,
    provenance: Provenance,
    kind_hint: str | None = None,
    work_dir: Path | None = None,
) -> ParseResult:
    """Parse `source_path` (CMS CSV, JSON, XLSX or XLS; detected from the content) into Parquet at
    `out_path`.

    `kind_hint` is what the downloader sniffed ("csv", "json", "xlsx", "xls"); the content decides,
    and a disagreement is reported in the result's warnings. The Parquet file appears at
    `out_path` only when the whole file parsed (written to a temporary name beside it, then
    renamed). `work_dir` holds the UTF-8 copy of a file that needs transcoding (default: the
    directory of `out_path`). Raises `ParseError` (or its subclass `NotACmsTemplateError`) naming
    the file, the location and what was expected.
    """
    from .csv_cms import parse_cms_csv

    started = time.perf_counter()
    source_path = Path(source_path)
    out_path = Path(out_path)
    work_dir = Path(work_dir) if work_dir is not None else out_path.parent
    work_dir.mkdir(parents=True, exist_ok=True)
    sniff: Sniff = sniff_file(source_path, kind_hint)
    common = dict(provenance=provenance, parser_version=PARSER_VERSION, work_dir=work_dir)
    try:
        if sniff.kind == "csv":
            result = parse_cms_csv(source_path, out_path, **common)
        elif sniff.kind == "json":
            from .json_cms import parse_cms_json

            result = parse_cms_json(source_path, out_path, **common)
        else:
            from .xlsx_cms import parse_cms_workbook

            result = parse_cms_workbook(source_path, out_path, kind=sniff.kind, **common)
    except NotACmsTemplateError:
        for fallback in FALLBACK_PARSERS:
            result = fallback(source_path, out_path, sniff=sniff, **common)
            if result is not None:
                break
        else:
            raise
    if sniff.hint_disagrees:
        result.warnings.append(f"the downloader's kind hint was {kind_hint!r}; the content is {sniff.kind}")
    result.seconds = time.perf_counter() - started
    return result
