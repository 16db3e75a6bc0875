"""CMS standard-charge JSON files (v2.2 and v3.0), valid against the official CMS schemas.

A JSON file carries the same priced rows as the tall CSV of the same spec (`charges.py`): one
`standard_charge_information` item per row, its code pairs in `code_information`, NDC items with
`drug_information`, one `standard_charges` entry with the gross/cash/min/max charges and one
`payers_information` object per payer and plan. Modifier-only rows become `modifier_information`.

Version differences follow the schemas: v2.2 has `hospital_location` and the affirmation,
`estimated_amount`, and a drug unit that is a string; v3.0 has `location_name`, `type_2_npi`,
the attestation with `attester_name`, median/10th/90th/count, `modifier_code` on charges, a
`setting` on modifiers and a drug unit that is a number.

How the file is laid out (indentation, metadata before or after the items, the optional
financial-aid and contract-provision keys) is the hospital's style, kept across versions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .charges import (
    AFFIRMATION_V2,
    ATTESTATION_V3,
    CONTRACT_PROVISIONS,
    FINANCIAL_AID_POLICY,
    PricedRow,
    Rate,
    file_style,
    item_order,
    price_drift,
    price_item,
    priced_rows,
)
from .content import BlockedContent, BytesContent, ContentFormat, ContentSpec, register_format
from .seeding import derive_rng

JSON_MEDIA_TYPE = "application/json"
JSON_VERSION = {"2.2": "2.2.0", "3.0": "3.0.0"}


@dataclass(frozen=True)
class JsonStyle:
    indent: int | None
    compact: bool
    # Some publishers write the items first and the hospital's metadata after them.
    metadata_last: bool
    modifiers_last: bool


def json_style(spec: ContentSpec) -> JsonStyle:
    rng = derive_rng(spec.seed, spec.fileid, "json-style")
    # Most large JSON files are written without indentation; some are pretty-printed.
    indent = rng.choice((None, None, None, 2, 4))
    return JsonStyle(indent=indent, compact=indent is None and rng.random() < 0.5,
                     metadata_last=rng.random() < 0.1, modifiers_last=rng.random() < 0.6)


def _number(value: float) -> int | float:
    """A JSON number as a hospital's exporter writes it: whole amounts without a fraction."""
    return int(value) if value == int(value) else round(value, 2)


def _payer(rate: Rate, version: str) -> dict[str, Any]:
    payer: dict[str, Any] = {"payer_name": rate.payer, "plan_name": rate.plan, "methodology": rate.methodology}
    if rate.dollar is not None:
        payer["standard_charge_dollar"] = _number(rate.dollar)
    if rate.percentage is not None:
        payer["standard_charge_percentage"] = _number(rate.percentage)
    if rate.algorithm:
        payer["standard_charge_algorithm"] = rate.algorithm
    if version == "2.2":
        if rate.estimated is not None:
            payer["estimated_amount"] = _number(rate.estimated)
    else:
        if rate.median is not None:
            payer["median_amount"] = _number(rate.median)
            payer["10th_percentile"] = _number(rate.p10)  # type: ignore[arg-type]
            payer["90th_percentile"] = _number(rate.p90)  # type: ignore[arg-type]
        if rate.count:
            payer["count"] = rate.count
    if rate.notes:
        payer["additional_payer_notes"] = rate.notes
    return payer


def _item(row: PricedRow, version: str) -> dict[str, Any]:
    item: dict[str, Any] = {
        "description": row.description,
        "code_information": [{"code": code, "type": code_type} for code, code_type in row.codes],
    }
    if row.drug_unit:
        unit = float(row.drug_unit)
        item["drug_information"] = {"unit": row.drug_unit if version == "2.2" else _number(unit),
                                    "type": row.drug_type}
    charge: dict[str, Any] = {"setting": row.setting}
    if row.gross is not None:
        charge["gross_charge"] = _number(row.gross)
    if row.cash is not None:
        charge["discounted_cash"] = _number(row.cash)
    if row.minimum is not None:
        charge["minimum"] = _number(row.minimum)
        charge["maximum"] = _number(row.maximum)  # type: ignore[arg-type]
    if row.modifiers and version == "3.0":
        charge["modifier_code"] = row.modifiers.split("|")
    if row.generic_notes:
        charge["additional_generic_notes"] = row.generic_notes
    if row.rates:
        charge["payers_information"] = [_payer(rate, version) for rate in row.rates]
    item["standard_charges"] = [charge]
    return item


def _modifier(row: PricedRow, version: str) -> dict[str, Any]:
    modifier: dict[str, Any] = {"description": row.description, "code": row.modifiers}
    if version == "3.0":
        modifier["setting"] = row.setting
    modifier["modifier_payer_information"] = [
        {"payer_name": rate.payer, "plan_name": rate.plan, "description": rate.notes} for rate in row.rates
    ]
    return modifier


def _metadata(spec: ContentSpec, version: str, extra_headers: tuple[str, ...]) -> dict[str, Any]:
    """The root's general data elements, in the order CMS's examples show them."""
    hospital = spec.hospital
    license_information: dict[str, str] = {"state": hospital.state}
    if hospital.license_number:
        license_information = {"license_number": hospital.license_number, "state": hospital.state}
    metadata: dict[str, Any] = {
        "hospital_name": hospital.hospital_name,
        "last_updated_on": spec.published_date.isoformat(),
        "version": JSON_VERSION[version],
    }
    if version == "2.2":
        metadata["hospital_location"] = list(hospital.location_names)
        metadata["hospital_address"] = list(hospital.addresses)
        metadata["license_information"] = license_information
        metadata["affirmation"] = {"affirmation": AFFIRMATION_V2, "confirm_affirmation": True}
    else:
        metadata["location_name"] = list(hospital.location_names)
        metadata["hospital_address"] = list(hospital.addresses)
        metadata["license_information"] = license_information
        metadata["type_2_npi"] = list(hospital.type_2_npis)
        metadata["attestation"] = {"attestation": ATTESTATION_V3, "confirm_attestation": True,
                                   "attester_name": hospital.attester_name}
    if "financial_aid_policy" in extra_headers:
        metadata["financial_aid_policy"] = FINANCIAL_AID_POLICY
    if "general_contract_provisions" in extra_headers:
        metadata["general_contract_provisions"] = [{"provisions": CONTRACT_PROVISIONS}]
    return metadata


def cms_json_document(spec: ContentSpec, version: str) -> dict[str, Any]:
    """The file as a JSON-ready dict, keys in the order the file shows them."""
    style = file_style(spec, "tall")
    layout = json_style(spec)
    rows, modifiers = priced_rows(spec, version, style, "tall")
    metadata = _metadata(spec, version, style.extra_headers)
    body: dict[str, Any] = {}
    modifier_information = [_modifier(row, version) for row in modifiers]
    if modifier_information and not layout.modifiers_last:
        body["modifier_information"] = modifier_information
    body["standard_charge_information"] = [_item(row, version) for row in rows]
    if modifier_information and layout.modifiers_last:
        body["modifier_information"] = modifier_information
    return {**body, **metadata} if layout.metadata_last else {**metadata, **body}


def render_cms_json(spec: ContentSpec, version: str) -> bytes:
    layout = json_style(spec)
    separators = (",", ":") if layout.compact else None
    text = json.dumps(cms_json_document(spec, version), indent=layout.indent, separators=separators,
                      ensure_ascii=False)
    return (text + "\n").encode("utf-8")


class LargeJson(BlockedContent):
    """A CMS JSON file of an exact byte size, produced on the fly (like `LargeTallCsv`).

    Written compactly: the root's metadata, then `standard_charge_information` made of a
    fixed-length block of items repeated. Every item carries a chargemaster code made of the
    block number and the item's place in the block, so items stay distinct across the file, and
    the block holding any byte offset is one division away. After the last whole block come a
    few ordinary items and one item whose notes pad the file to its exact size.
    """

    # Printable, so JSON leaves it alone, and as long as the digits that replace it.
    PLACEHOLDER = "~" * BlockedContent.BLOCK_DIGITS
    FILLER_TEXT = "Filler item that keeps this file at its published size. "

    def __init__(self, spec: ContentSpec, version: str):
        if spec.target_size is None:
            raise ValueError("a streaming file needs target_size")
        self.size = spec.target_size
        style = file_style(spec, "tall", large=True)
        metadata = _metadata(spec, version, style.extra_headers)
        opening = json.dumps(metadata, separators=(",", ":"), ensure_ascii=False)
        self.header = (opening[:-1] + ',"standard_charge_information":[').encode("utf-8")
        self.closing = b"]}\n"

        rng = derive_rng(spec.seed, spec.fileid, spec.version, "large-json-block")
        items = item_order(spec)
        drift = price_drift(spec)
        self._templates: list[bytes] = []
        length = 0
        position = 0
        while length < self.BLOCK_TARGET_BYTES:
            row = price_item(rng, items[position % len(items)], style, version,
                             f"{self.PLACEHOLDER}{position:05d}", drift)
            encoded = (json.dumps(_item(row, version), separators=(",", ":"), ensure_ascii=False) + ",").encode()
            assert encoded.count(self.PLACEHOLDER.encode()) == 1, "every item must carry the block number"
            self._templates.append(encoded)
            length += len(encoded)
            position += 1
        self._block_template = b"".join(self._templates)
        self.block_length = len(self._block_template)
        self._version = version

        filler_min = len(self._filler(0, "x"))
        body = self.size - len(self.header) - len(self.closing)
        if body < filler_min:
            raise ValueError(f"a large file must be at least {len(self.header) + len(self.closing) + filler_min} bytes")
        full_blocks, tail_length = divmod(body, self.block_length)
        if tail_length < filler_min:
            # The tail always ends with the filler item, which closes the array without a comma.
            full_blocks -= 1
            tail_length += self.block_length
        self.full_blocks = full_blocks
        self.body_start = len(self.header)
        self.tail_start = self.body_start + full_blocks * self.block_length
        self.tail = self._build_tail(tail_length, filler_min) + self.closing
        assert self.tail_start + len(self.tail) == self.size

    def _filler(self, block_number: int, notes: str) -> bytes:
        row = PricedRow(description="Miscellaneous supply",
                        codes=[("0270", "RC"), (f"{self._digits(block_number).decode()}99999", "CDM")],
                        setting="both", gross=12.0, cash=9.0, generic_notes=notes)
        return json.dumps(_item(row, self._version), separators=(",", ":")).encode()

    def block(self, block_number: int) -> bytes:
        return self._block_template.replace(self.PLACEHOLDER.encode(), self._digits(block_number))


for _version in ("2.2", "3.0"):
    register_format(ContentFormat(
        name=f"cms-json-{_version}",
        suffix="json",
        media_type=JSON_MEDIA_TYPE,
        build=lambda spec, version=_version: BytesContent(render_cms_json(spec, version)),
        description=f"CMS v{_version} JSON (the tall CSV's items and prices)",
        tags=("cms", "json", _version),
        family="json",
        cms_version=_version,
    ))
    register_format(ContentFormat(
        name=f"cms-json-{_version}-large",
        suffix="json",
        media_type=JSON_MEDIA_TYPE,
        build=lambda spec, version=_version: LargeJson(spec, version),
        streaming=True,
        description=f"CMS v{_version} JSON of an exact size, streamed",
        tags=("cms", "json", _version, "large"),
        family="json",
        cms_version=_version,
    ))
