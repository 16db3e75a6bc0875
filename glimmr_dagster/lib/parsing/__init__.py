"""Parsing of hospital price-transparency files (CMS templates) into the standard-charges table.

    from glimmr_dagster.lib.parsing import Provenance, parse_price_file

    result = parse_price_file(
        raw_path, lake_path, provenance=Provenance("CA-123", sha256), kind_hint="csv"
    )
    result.rows_written, result.to_metadata()

Pure library code: no Dagster imports. See SCHEMA.md for the table.
"""

from .errors import NotACmsTemplateError, ParseError, PriceFileError
from .parse import FALLBACK_PARSERS, PARSER_VERSION, parse_price_file
from .result import FileMetadata, ParseResult, Provenance
from .schema import COLUMN_DESCRIPTIONS, COLUMNS, PRICE_TABLE_SCHEMA, SCHEMA_VERSION

__all__ = [
    "COLUMNS",
    "COLUMN_DESCRIPTIONS",
    "FALLBACK_PARSERS",
    "FileMetadata",
    "NotACmsTemplateError",
    "PARSER_VERSION",
    "PRICE_TABLE_SCHEMA",
    "ParseError",
    "ParseResult",
    "PriceFileError",
    "Provenance",
    "SCHEMA_VERSION",
    "parse_price_file",
]
