"""The standard-charges table every parser writes: one schema, versioned, described column by column.

One row per item × setting × payer/plan rate, or one row per item (and setting) when the item has
no payer-specific rate. The lake stores it as `prices/state=XX/hospital=KEY/<sha256>.parquet`; the
hive keys `state` and `hospital` are directory names only and never columns inside the files.

Change this schema only together with SCHEMA_VERSION (and PARSER_VERSION), and regenerate
SCHEMA.md with `python -m glimmr_dagster.lib.parsing.schema > glimmr_dagster/lib/parsing/SCHEMA.md`
(a test fails while the two disagree).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import pyarrow as pa

# Major: a column changed meaning or type or was removed. Minor: a column was added.
SCHEMA_VERSION = "1.0"


@dataclass(frozen=True)
class Column:
    name: str
    arrow_type: pa.DataType
    group: str
    description: str


# Text is large_string, lists large_list: what polars writes, so the declared schema and the
# files agree exactly (a test checks it).
TEXT = pa.large_string()
CODE_STRUCT = pa.struct([pa.field("type", TEXT), pa.field("code", TEXT)])
# Text columns with one value per file or a few per file are stored dictionary-encoded: the same
# strings for readers (DuckDB reads VARCHAR), written and scanned far faster than plain text.
LOW_CARDINALITY = pa.dictionary(pa.uint32(), pa.string())

COLUMNS: tuple[Column, ...] = (
    # --- provenance ---------------------------------------------------------------------------
    Column("hospital_key", LOW_CARDINALITY, "provenance",
           "The project's hospital key (\"CA-123\"), as passed by the caller; the same value as the "
           "lake's `hospital=` directory, kept so a file read on its own still says whose it is."),
    Column("file_sha256", LOW_CARDINALITY, "provenance",
           "SHA-256 of the published file this row came from (the lake file is named after it)."),
    Column("source_row", pa.int64(), "provenance",
           "CSV/XLSX: the row number in the file as a spreadsheet shows it (rows 1–3 are the "
           "headers, so the first data row is 4). Null for JSON."),
    Column("source_json_path", TEXT, "provenance",
           "JSON: JSON-pointer of the record the row came from, e.g. "
           "`/standard_charge_information/12/standard_charges/0/payers_information/3`, or "
           "`/modifier_information/0/modifier_payer_information/1`. Null for CSV/XLSX."),
    Column("layout", LOW_CARDINALITY, "provenance",
           "How the file was laid out: `csv-tall`, `csv-wide`, `json`, `xlsx-tall`, `xlsx-wide`, "
           "`xls-tall`, `xls-wide`."),
    Column("schema_version", LOW_CARDINALITY, "provenance", "Version of this table schema."),
    Column("parser_version", LOW_CARDINALITY, "provenance",
           "Version of the parser that wrote the row; a file is re-parsed when it changes."),
    # --- file-level data ----------------------------------------------------------------------
    Column("hospital_name", LOW_CARDINALITY, "file", "`hospital_name` from the file's general data."),
    Column("last_updated_on", pa.date32(), "file",
           "`last_updated_on` from the general data (ISO, M/D/YYYY and spreadsheet dates "
           "accepted); null when missing or not a date."),
    Column("cms_version", LOW_CARDINALITY, "file",
           "CMS template version the file follows: `3.0`, or `2.0`/`2.1`/`2.2` as declared, or "
           "`2` when a v2 file declares no usable version. Decided from the content (v3 has "
           "`location_name`, `type_2_npi`, the attestation and the allowed-amount columns)."),
    Column("location_names", pa.large_list(TEXT), "file",
           "`location_name` (v3) or `hospital_location` (v2), split on `|`."),
    Column("license_number", LOW_CARDINALITY, "file", "Hospital license number (may be null)."),
    Column("license_state", LOW_CARDINALITY, "file",
           "Two-letter state of the license (from the `license_number|XX` header or JSON)."),
    # --- item ---------------------------------------------------------------------------------
    Column("description", TEXT, "item", "Item or service description, as published."),
    Column("codes", pa.large_list(CODE_STRUCT), "item",
           "Every code of the item in published order: `type` is the CMS code type (CPT, HCPCS, "
           "RC, MS-DRG, NDC, ...; unrecognized types kept as published, upper-cased), `code` the "
           "normalized code (CPT/HCPCS upper-case 5 characters, DRGs 3 digits zero-padded, revenue "
           "codes 4 digits, NDC 11 digits 5-4-2 without hyphens, ICD upper-case; other types "
           "trimmed)."),
    Column("primary_code", TEXT, "item",
           "The code most useful for comparing across hospitals: the first present of CPT, "
           "HCPCS, MS-DRG, ... , NDC, ICD, RC, CDM, LOCAL (see `PRIMARY_CODE_PRIORITY`)."),
    Column("primary_code_type", LOW_CARDINALITY, "item", "CMS type of `primary_code`."),
    Column("modifiers", pa.large_list(TEXT), "item",
           "Modifiers (CSV `modifiers` split on `|`; JSON `modifier_code`, or the code of a "
           "`modifier_information` entry)."),
    Column("setting", LOW_CARDINALITY, "item",
           "`inpatient`, `outpatient` or `both`; an unrecognized value is kept as published and "
           "flagged `unknown_setting`."),
    Column("billing_class", LOW_CARDINALITY, "item",
           "`professional`, `facility` or `both`; unrecognized kept and flagged."),
    Column("drug_unit_of_measurement", pa.float64(), "item", "Drug quantity the charge is for."),
    Column("drug_type_of_measurement", LOW_CARDINALITY, "item",
           "GR, ME, ML, UN, F2, EA or GM; unrecognized kept and flagged."),
    Column("gross_charge", pa.float64(), "item", "`standard_charge|gross`, in dollars."),
    Column("discounted_cash", pa.float64(), "item", "`standard_charge|discounted_cash`, in dollars."),
    # --- payer-specific -------------------------------------------------------------------------
    Column("payer_name", LOW_CARDINALITY, "payer", "Payer name as published (trimmed)."),
    Column("plan_name", LOW_CARDINALITY, "payer", "Plan name as published (trimmed)."),
    Column("payer_name_normalized", LOW_CARDINALITY, "payer",
           "Payer name for grouping: ids and underscores removed, national payer families under one "
           "spelling (\"BCBS [110001]\" → \"Blue Cross Blue Shield\")."),
    Column("negotiated_dollar", pa.float64(), "payer", "Payer-specific negotiated charge in dollars."),
    Column("negotiated_percentage", pa.float64(), "payer",
           "Negotiated percentage as published (70.5 means 70.5 %)."),
    Column("negotiated_algorithm", TEXT, "payer", "Negotiated algorithm text."),
    Column("methodology", LOW_CARDINALITY, "payer",
           "`case rate`, `fee schedule`, `percent of total billed charges`, `per diem` or "
           "`other`; unrecognized kept and flagged `unknown_methodology`."),
    Column("estimated_amount", pa.float64(), "payer", "v2.2 estimated allowed amount."),
    Column("median_amount", pa.float64(), "payer", "v3 median allowed amount."),
    Column("percentile_10th", pa.float64(), "payer", "v3 10th percentile allowed amount."),
    Column("percentile_90th", pa.float64(), "payer", "v3 90th percentile allowed amount."),
    Column("allowed_amount_count", LOW_CARDINALITY, "payer",
           "v3 count of allowed amounts: `0`, `1 through 10` or an integer ≥ 11 (text, as CMS "
           "defines it); other values kept and flagged `invalid_count`."),
    Column("deidentified_min", pa.float64(), "payer",
           "`standard_charge|min`: de-identified minimum negotiated charge."),
    Column("deidentified_max", pa.float64(), "payer",
           "`standard_charge|max`: de-identified maximum negotiated charge."),
    Column("additional_generic_notes", TEXT, "payer", "`additional_generic_notes`."),
    Column("additional_payer_notes", TEXT, "payer",
           "`additional_payer_notes` (wide CSV and JSON), or the payer-specific description of a "
           "JSON modifier."),
    # --- quality ------------------------------------------------------------------------------
    Column("flags", pa.large_list(TEXT), "quality",
           "What normalization noticed about the row, empty when nothing: `placeholder:<column>` "
           "(a nine-9s style stand-in amount, kept as published), `not_a_number:<column>` (text "
           "in a number column; the number is null and the cell is counted as not carried), "
           "`unknown_setting`, `unknown_methodology`, `unknown_billing_class`, "
           "`unknown_drug_type`, `unknown_code_type`, `nonstandard_code` (a code that does not "
           "have its type's shape), `invalid_count`."),
)

COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)
PRICE_TABLE_SCHEMA: pa.Schema = pa.schema(
    [pa.field(c.name, c.arrow_type) for c in COLUMNS],
    metadata={"glimmr.schema_version": SCHEMA_VERSION},
)
COLUMN_DESCRIPTIONS: dict[str, str] = {c.name: c.description for c in COLUMNS}

# The same schema for polars frames, which is what the parsers build batches with.
POLARS_SCHEMA: dict[str, pl.DataType] = dict(
    pl.DataFrame(pa.Table.from_batches([], schema=PRICE_TABLE_SCHEMA)).schema
)



def _type_text(t: pa.DataType) -> str:
    if pa.types.is_large_list(t) and t.value_type == CODE_STRUCT:
        return "list<struct<type, code>>"
    if pa.types.is_dictionary(t):
        return "string (dictionary-encoded)"
    if pa.types.is_large_list(t):
        return "list<string>"
    return str(t).replace("large_", "")


def schema_markdown() -> str:
    """SCHEMA.md: the table, its version and each column's type and meaning."""
    lines = [
        "# Standard-charges table",
        "",
        f"Schema version **{SCHEMA_VERSION}**. Written by `glimmr_dagster.lib.parsing` as Parquet at",
        "`lake/prices/state=XX/hospital=KEY/<sha256>.parquet`: one row per item × setting × "
        "payer/plan rate, or one row per item (and setting) when the item has no payer-specific "
        "rate. The hive keys `state` and `hospital` are directories, not columns.",
        "",
        "Generated from `schema.py` (`python -m glimmr_dagster.lib.parsing.schema`); edit that "
        "file, not this one.",
        "",
        "| column | type | meaning |",
        "|---|---|---|",
    ]
    group = None
    for c in COLUMNS:
        if c.group != group:
            group = c.group
            lines.append(f"| **{group}** | | |")
        # A pipe inside a cell would end it, even inside backticks.
        lines.append(f"| `{c.name}` | {_type_text(c.arrow_type)} | {c.description.replace('|', chr(92) + '|')} |")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(schema_markdown(), end="")
