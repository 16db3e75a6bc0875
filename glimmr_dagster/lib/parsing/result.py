"""What a parse returns: counts that account for every source row and cell, and the file's metadata."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

# How many example locations to keep per reject reason, payers to list, and distinct unknown
# values to list per column: enough to find the problem, small enough for Dagster metadata.
EXAMPLES_PER_REASON = 5
PAYERS_LISTED = 200
UNKNOWN_VALUES_LISTED = 20
# Distinct unknown values remembered per column; beyond it they are counted under one key, so a
# column of junk cannot grow the result without bound.
UNKNOWN_VALUES_KEPT = 1_000
OTHER_VALUES = "(other values)"


@dataclass(frozen=True)
class Provenance:
    """Who the file belongs to: written into every row of the table."""

    hospital_key: str
    file_sha256: str


@dataclass
class FileMetadata:
    """The file-level ("general data") elements: CSV rows 1–2, or the JSON root."""

    hospital_name: str | None = None
    last_updated_on: dt.date | None = None
    last_updated_on_as_published: str | None = None
    version: str | None = None  # as declared in the file
    location_names: list[str] = field(default_factory=list)
    hospital_addresses: list[str] = field(default_factory=list)
    license_number: str | None = None
    license_state: str | None = None
    type_2_npi: list[str] = field(default_factory=list)
    attestation_confirmed: bool | None = None  # v3 attestation, v2 affirmation
    attestation_text: str | None = None
    attester_name: str | None = None
    financial_aid_policy: str | None = None
    general_contract_provisions: Any = None  # CSV: text; JSON: list of {payer_name, plan_name, provisions}
    extra: dict[str, Any] = field(default_factory=dict)  # other general-data elements, by header

    def to_dict(self) -> dict[str, Any]:
        return {
            "hospital_name": self.hospital_name,
            "last_updated_on": self.last_updated_on.isoformat() if self.last_updated_on else None,
            "last_updated_on_as_published": self.last_updated_on_as_published,
            "version": self.version,
            "location_names": list(self.location_names),
            "hospital_addresses": list(self.hospital_addresses),
            "license_number": self.license_number,
            "license_state": self.license_state,
            "type_2_npi": list(self.type_2_npi),
            "attestation_confirmed": self.attestation_confirmed,
            "attester_name": self.attester_name,
            "financial_aid_policy": self.financial_aid_policy,
            "general_contract_provisions": self.general_contract_provisions,
            "extra": dict(self.extra),
        }


@dataclass
class RejectSummary:
    """Source rows that did not land, by reason, with a few example locations each."""

    counts: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, reason: str, count: int, examples: list[str] = ()) -> None:
        if count <= 0:
            return
        self.counts[reason] += count
        kept = self.examples.setdefault(reason, [])
        for location in examples:
            if len(kept) >= EXAMPLES_PER_REASON:
                break
            kept.append(location)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass
class ParseResult:
    """The outcome of parsing one file; every source row and non-empty cell is accounted for.

    Row accounting: `rows_read == source_rows_landed + rows_rejected`. A tall CSV row or a JSON
    payer record lands as exactly one table row; a wide CSV row lands as one row per non-empty
    payer/plan block (or one row when it has none), so `rows_written` can exceed `rows_read`.
    Cell accounting: a non-empty source cell is either carried into the table or counted in
    `cells_not_carried` under its source column (or JSON path).
    """

    source_path: str
    format: str  # csv | json | xlsx | xls
    layout: str  # csv-tall, csv-wide, json, xlsx-tall, ...
    cms_version: str  # 3.0, 2.2, 2.1, 2.0 or 2
    encoding: str  # utf-8, utf-8-sig, cp1252, utf-8+cp1252, utf-16, binary (xlsx)
    parser_version: str
    schema_version: str
    rows_read: int = 0
    rows_written: int = 0
    source_rows_landed: int = 0
    rejects: RejectSummary = field(default_factory=RejectSummary)
    duplicates_dropped: int = 0
    cells_not_carried: Counter[str] = field(default_factory=Counter)
    missing_markers: Counter[str] = field(default_factory=Counter)  # "N/A" and the like, by column
    placeholders: Counter[str] = field(default_factory=Counter)  # nine-9s amounts, by column
    unknown_values: dict[str, Counter[str]] = field(default_factory=dict)  # by column
    flags: Counter[str] = field(default_factory=Counter)  # rows carrying each flag
    payers: set[str] = field(default_factory=set)
    payer_plans: int = 0
    codes_by_type: Counter[str] = field(default_factory=Counter)
    metadata: FileMetadata = field(default_factory=FileMetadata)
    transcoded_bytes: int = 0  # bytes decoded as cp1252/latin-1 inside an otherwise UTF-8 file
    warnings: list[str] = field(default_factory=list)
    sheet: str | None = None  # XLSX/XLS: the sheet that was parsed
    seconds: float = 0.0

    @property
    def rows_rejected(self) -> int:
        return self.rejects.total

    @property
    def rejects_by_reason(self) -> dict[str, int]:
        return dict(self.rejects.counts)

    def add_unknown_value(self, column: str, value: str, count: int) -> None:
        values = self.unknown_values.setdefault(column, Counter())
        if value not in values and len(values) >= UNKNOWN_VALUES_KEPT:
            value = OTHER_VALUES
        values[value] += count

    def to_metadata(self) -> dict[str, Any]:
        """JSON-friendly values for Dagster asset metadata and the catalog."""
        return {
            "source_path": self.source_path,
            "format": self.format,
            "layout": self.layout,
            "cms_version": self.cms_version,
            "encoding": self.encoding,
            "parser_version": self.parser_version,
            "schema_version": self.schema_version,
            "rows_read": self.rows_read,
            "rows_written": self.rows_written,
            "rows_rejected": self.rows_rejected,
            "source_rows_landed": self.source_rows_landed,
            "rejects_by_reason": dict(sorted(self.rejects.counts.items())),
            "reject_examples": {k: list(v) for k, v in sorted(self.rejects.examples.items())},
            "duplicates_dropped": self.duplicates_dropped,
            "cells_not_carried": dict(sorted(self.cells_not_carried.items())),
            "cells_not_carried_total": sum(self.cells_not_carried.values()),
            "missing_markers": dict(sorted(self.missing_markers.items())),
            "placeholders": dict(sorted(self.placeholders.items())),
            "placeholders_total": sum(self.placeholders.values()),
            "unknown_values": {
                column: dict(values.most_common(UNKNOWN_VALUES_LISTED))
                for column, values in sorted(self.unknown_values.items())
            },
            "flags": dict(sorted(self.flags.items())),
            "payer_count": len(self.payers),
            "payers": sorted(self.payers)[:PAYERS_LISTED],
            "payer_plan_count": self.payer_plans,
            "codes_by_type": dict(self.codes_by_type.most_common()),
            "file": self.metadata.to_dict(),
            "transcoded_bytes": self.transcoded_bytes,
            "warnings": list(self.warnings),
            "sheet": self.sheet,
            "seconds": round(self.seconds, 3),
        }
