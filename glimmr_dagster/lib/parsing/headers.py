"""The header rows of CMS CSV/XLSX templates: general data (rows 1–2) and item columns (row 3).

Header names are matched the way CMS defines them: case-insensitively, with spaces around the
pipes ignored (`Code | 1 | Type` is `code|1|type`); this module also tolerates spaces or hyphens
inside keywords (`standard charge|gross`). Payer and plan names in wide headers keep their
published spelling, and payer/plan pairs are grouped case-insensitively, as the CMS validator does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from glimmr_dagster.lib import normalize as nz

from .errors import NotACmsTemplateError, column_letter
from .result import FileMetadata

ATTESTATION_PREFIX = "to the best of its knowledge and belief"

# Single-keyword and two-keyword item columns of the tall layout (and the non-payer columns of
# the wide layout), by normalized header → canonical field.
ITEM_COLUMNS = {
    ("description",): "description",
    ("modifiers",): "modifiers",
    ("setting",): "setting",
    ("billing_class",): "billing_class",
    ("drug_unit_of_measurement",): "drug_unit_of_measurement",
    ("drug_type_of_measurement",): "drug_type_of_measurement",
    ("standard_charge", "gross"): "gross_charge",
    ("standard_charge", "discounted_cash"): "discounted_cash",
    ("payer_name",): "payer_name",
    ("plan_name",): "plan_name",
    ("standard_charge", "negotiated_dollar"): "negotiated_dollar",
    ("standard_charge", "negotiated_percentage"): "negotiated_percentage",
    ("standard_charge", "negotiated_algorithm"): "negotiated_algorithm",
    ("standard_charge", "methodology"): "methodology",
    ("estimated_amount",): "estimated_amount",
    ("median_amount",): "median_amount",
    ("10th_percentile",): "percentile_10th",
    ("90th_percentile",): "percentile_90th",
    ("count",): "allowed_amount_count",
    ("standard_charge", "min"): "deidentified_min",
    ("standard_charge", "max"): "deidentified_max",
    ("additional_generic_notes",): "additional_generic_notes",
    ("additional_payer_notes",): "additional_payer_notes",
}
# Wide layout: standard_charge|<payer>|<plan>|<field> (or without the plan).
WIDE_CHARGE_FIELDS = {
    "negotiated_dollar": "negotiated_dollar",
    "negotiated_percentage": "negotiated_percentage",
    "negotiated_algorithm": "negotiated_algorithm",
    "methodology": "methodology",
}
# Wide layout: <field>|<payer>|<plan> (or without the plan).
WIDE_PREFIX_FIELDS = {
    "additional_payer_notes": "additional_payer_notes",
    "estimated_amount": "estimated_amount",
    "median_amount": "median_amount",
    "10th_percentile": "percentile_10th",
    "90th_percentile": "percentile_90th",
    "count": "allowed_amount_count",
}
V3_ONLY_FIELDS = {"median_amount", "percentile_10th", "percentile_90th", "allowed_amount_count"}
# Two-keyword standard_charge columns that are not payer names in a 3-part wide header.
_STANDARD_CHARGE_ITEM_KEYWORDS = {"gross", "discounted_cash", "min", "max", "negotiated_dollar",
                                  "negotiated_percentage", "negotiated_algorithm", "methodology"}


def _keyword(part: str) -> str:
    return re.sub(r"[\s\-]+", "_", part.strip().lower())


def header_parts(text: str | None) -> list[str]:
    """`" Code | 1 | Type"` → ["code", "1", "type"] (keywords lower-cased, parts trimmed)."""
    if text is None:
        return []
    return [_keyword(p) for p in str(text).replace("\ufeff", "").split("|")]


def _published_parts(text: str) -> list[str]:
    return [re.sub(r"\s+", " ", p.strip()) for p in str(text).replace("\ufeff", "").split("|")]


@dataclass
class PayerBlock:
    """The columns of one payer/plan pair in a wide file."""

    payer: str  # as published (first spelling seen)
    plan: str | None
    columns: dict[str, int] = field(default_factory=dict)  # canonical field → column index


@dataclass
class CmsColumns:
    """Where each canonical field lives in a CMS template's item header."""

    header_row_number: int  # 1-based row of the item header (3 in a complete file)
    headers: list[str]
    item: dict[str, int]  # canonical field (incl. code_<n>, code_type_<n>) → column index
    blocks: list[PayerBlock]
    unmapped: dict[int, str]  # column index → label used in cells_not_carried
    is_wide: bool
    warnings: list[str] = field(default_factory=list)

    def label(self, index: int) -> str:
        text = (self.headers[index] or "").strip() if index < len(self.headers) else ""
        return text or f"(blank header, column {column_letter(index)})"

    @property
    def has_v3_columns(self) -> bool:
        fields = set(self.item)
        for block in self.blocks:
            fields |= set(block.columns)
        return bool(fields & V3_ONLY_FIELDS)


def _item_field(parts: list[str]) -> str | None:
    if not parts or not parts[0]:
        return None
    if parts[0] == "code" and len(parts) in (2, 3) and parts[1].isdigit():
        if len(parts) == 2:
            return f"code_{int(parts[1])}"
        if parts[2] == "type":
            return f"code_type_{int(parts[1])}"
        return None
    return ITEM_COLUMNS.get(tuple(parts))


def _wide_field(parts: list[str], published: list[str]) -> tuple[str, str | None, str] | None:
    """(payer, plan, canonical field) of a wide payer column, else None."""
    if len(parts) < 2:
        return None
    head, tail = parts[0], parts[-1]
    if head == "standard_charge" and tail in WIDE_CHARGE_FIELDS:
        if len(parts) == 4:
            return published[1], published[2], WIDE_CHARGE_FIELDS[tail]
        if len(parts) == 3 and parts[1] not in _STANDARD_CHARGE_ITEM_KEYWORDS:
            return published[1], None, WIDE_CHARGE_FIELDS[tail]
        return None
    if head in WIDE_PREFIX_FIELDS:
        if len(parts) == 3:
            return published[1], published[2], WIDE_PREFIX_FIELDS[head]
        if len(parts) == 2:
            return published[1], None, WIDE_PREFIX_FIELDS[head]
    return None


def looks_like_item_header(row: list[str]) -> bool:
    """Row 3 of a CMS template: a description column plus codes, settings or standard charges."""
    keys = [header_parts(cell) for cell in row]
    if ["description"] not in keys:
        return False
    return any(
        (len(k) >= 2 and k[0] == "code" and k[1].isdigit())
        or (len(k) >= 2 and k[0] == "standard_charge")
        or k == ["setting"]
        for k in keys
    )


def find_item_header(rows: list[list[str]]) -> int | None:
    """Index (0-based) of the item header among the first rows: 2 in a complete file, 0 in an
    excerpt that kept only the column header."""
    for index in (2, 0, 1):
        if index < len(rows) and looks_like_item_header(rows[index]):
            return index
    return None


def map_columns(headers: list[str], header_row_number: int) -> CmsColumns:
    item: dict[str, int] = {}
    blocks: dict[tuple[str, str | None], PayerBlock] = {}
    unmapped: dict[int, str] = {}
    wide_columns: list[int] = []
    columns = CmsColumns(header_row_number, headers, item, [], unmapped, False)
    for index, text in enumerate(headers):
        parts = header_parts(text)
        if not any(parts):  # a blank header cell: its values, if any, are not carried
            unmapped[index] = columns.label(index)
            continue
        name = _item_field(parts)
        if name is not None:
            if name in item:
                unmapped[index] = f"{columns.label(index)} (duplicate, column {column_letter(index)})"
                columns.warnings.append(f"column {column_letter(index)} repeats '{text}'; the first one is used")
            else:
                item[name] = index
            continue
        wide = _wide_field(parts, _published_parts(text))
        if wide is not None:
            payer, plan, name = wide
            key = (payer.lower(), plan.lower() if plan is not None else None)
            block = blocks.setdefault(key, PayerBlock(payer, plan))
            if name in block.columns:
                unmapped[index] = f"{columns.label(index)} (duplicate, column {column_letter(index)})"
            else:
                block.columns[name] = index
                wide_columns.append(index)
            continue
        unmapped[index] = columns.label(index)
    tall = "payer_name" in item and "plan_name" in item
    if tall and blocks:
        columns.warnings.append(
            "row has both payer_name/plan_name and payer-specific columns (CMS calls this "
            "ambiguous); read as tall, the payer-specific columns are not carried"
        )
        for index in wide_columns:
            unmapped[index] = f"{columns.label(index)} (payer column in a tall file)"
        blocks = {}
    columns.blocks = list(blocks.values())
    columns.is_wide = bool(columns.blocks)
    return columns


def require_cms_columns(path, headers: list[str], header_row_number: int) -> CmsColumns:
    columns = map_columns(headers, header_row_number)
    if "description" not in columns.item:
        raise NotACmsTemplateError(
            path, f"row {header_row_number}", "expected a 'description' column in the item header"
        )
    return columns


def template_header(path, rows: list[list[str]], header_index: int) -> tuple[CmsColumns, FileMetadata, bool]:
    """The item columns, the general data (rows 1-2 when the header is row 3) and whether the
    file has the v3 structure, from a template's leading rows."""
    columns = require_cms_columns(path, rows[header_index], header_index + 1)
    if header_index >= 2:
        metadata = general_data(rows[0], rows[1])
        return columns, metadata, is_v3_general_data(rows[0]) or columns.has_v3_columns
    return columns, FileMetadata(), columns.has_v3_columns


def describe_not_cms(rows: list[list[str]]) -> tuple[str, str]:
    """(location, message) for rows 1-3 that are not a CMS template's headers."""

    def cells(row: list[str], number: int) -> str:
        shown = [f"{column_letter(i)}{number}={c.strip()[:40]!r}" for i, c in enumerate(row) if c and c.strip()][:6]
        return ", ".join(shown) or "(empty)"

    if rows and any(header_parts(c)[:1] == ["hospital_name"] for c in rows[0]):
        third = rows[2] if len(rows) > 2 else []
        return "row 3", (
            "rows 1-2 hold CMS general data but row 3 is not the item header: expected "
            "'description' and code|1, setting or standard_charge|... columns; found " + cells(third, 3)
        )
    shown = "; ".join(cells(row, number) for number, row in enumerate(rows[:3], start=1))
    return "rows 1-3", (
        "expected CMS general-data headers in row 1 (hospital_name, last_updated_on, version, ...) "
        "and item headers in row 3 (description, code|1, code|1|type, setting, "
        "standard_charge|gross, ...); found " + (shown or "an empty file")
    )


def general_data(header: list[str], values: list[str]) -> FileMetadata:
    """Rows 1–2 of a CSV/XLSX template as file metadata."""
    meta = FileMetadata()
    for index, text in enumerate(header):
        value = values[index] if index < len(values) else None
        value = value.strip() if isinstance(value, str) else value
        value = value if value not in ("", None) else None
        parts = header_parts(text)
        key = parts[0] if parts else ""
        if not key:
            if value is not None:
                meta.extra[f"(blank header, column {column_letter(index)})"] = value
            continue
        if key.startswith(ATTESTATION_PREFIX.replace(" ", "_")):
            meta.attestation_text = str(text).strip()
            meta.attestation_confirmed = nz.parse_bool(value)
        elif key == "hospital_name":
            meta.hospital_name = value
        elif key == "last_updated_on":
            meta.last_updated_on_as_published = value
            meta.last_updated_on = nz.parse_date(value)
        elif key == "version":
            meta.version = value
        elif key in ("location_name", "hospital_location"):
            meta.location_names = nz.split_pipe_list(value)
        elif key == "hospital_address":
            meta.hospital_addresses = nz.split_pipe_list(value)
        elif key == "license_number":
            meta.license_number = value
            if len(parts) > 1 and parts[1]:
                meta.license_state = parts[1].upper()
        elif key == "type_2_npi":
            meta.type_2_npi = nz.split_pipe_list(value)
        elif key == "attester_name":
            meta.attester_name = value
        elif key == "financial_aid_policy":
            meta.financial_aid_policy = value
        elif key == "general_contract_provisions":
            meta.general_contract_provisions = value
        elif value is not None:
            meta.extra[str(text).strip()] = value
    return meta


def is_v3_general_data(header: list[str]) -> bool:
    keys = {header_parts(h)[0] if header_parts(h) else "" for h in header}
    if keys & {"location_name", "type_2_npi", "attester_name"}:
        return True
    return any("this_hospital_has_included_all_payer" in k for k in keys)


def cms_version(declared: str | None, v3_structure: bool) -> str:
    """`3.0` for v3 content; for v2 the declared minor (2.0/2.1/2.2), or `2` when not declared."""
    if v3_structure or (declared or "").strip().lower().lstrip("v").startswith("3"):
        return "3.0"
    m = re.match(r"^v?2\.(\d)", (declared or "").strip().lower())
    return f"2.{m.group(1)}" if m else "2"
