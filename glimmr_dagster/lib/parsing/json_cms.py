"""CMS JSON templates (v2.0–v3.0) → the standard-charges table, streamed item by item.

Files reach 5 GB, so the document is never held. The file is read as text a few MB at a time
(strict UTF-8) and walked at the root: each root value, and each `standard_charge_information`
item in turn, is parsed by the standard library's C decoder (`raw_decode`), about twice as fast
as an event parser building the same objects. The items are flattened into three levels (item,
standard charge, payer) and turned into Arrow columns a thousand payer records at a time (small
batches keep the parsed objects in the CPU cache), then normalized and written like CSV rows.

Parsing and flattening hold Python's interpreter lock; normalizing and writing are polars work
that mostly runs outside it. So parsing runs on a thread of its own, handing batches (already in
Arrow) to the writer's side through a short queue, and the two share the machine's cores. What
flattening notices (unknown keys, entries that are not objects) travels with its batch and is
added to the result in file order.

The root's other keys (hospital name, dates, locations, license, attestation, modifiers, ...)
usually come before the items, sometimes after (CMS's own v3 example puts `modifier_information`
last): the walk collects both, and a value that arrives after the items rewrites the rows'
file-level columns.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import os
import queue
import re
import sys
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa

from glimmr_dagster.lib import normalize as nz

from .dedup import HASH_SEED, SeenRows
from .encoding import NotUtf8Error, parse_as_utf8, remove_quietly
from .errors import NotACmsTemplateError, ParseError
from .frames import Labels, RowConstants, assemble, normalize_level
from .headers import cms_version
from .result import EXAMPLES_PER_REASON, FileMetadata, ParseResult, Provenance
from .schema import SCHEMA_VERSION
from .writer import write_table

# Payer records converted to Arrow at a time (small: the Python objects stay in cache) and table
# rows per normalized batch (large: fixed per-batch costs are paid rarely).
PAYERS_PER_CONVERSION = 1_000
ROWS_PER_BATCH = 150_000

ROOT_KEYS_V3 = {"location_name", "type_2_npi", "attestation"}

PAYER_FIELDS: dict[str, tuple[str, pa.DataType]] = {
    # JSON key → (canonical field, Arrow type as published)
    "payer_name": ("payer_name", pa.string()),
    "plan_name": ("plan_name", pa.string()),
    "standard_charge_dollar": ("negotiated_dollar", pa.float64()),
    "standard_charge_percentage": ("negotiated_percentage", pa.float64()),
    "standard_charge_algorithm": ("negotiated_algorithm", pa.string()),
    "methodology": ("methodology", pa.string()),
    "estimated_amount": ("estimated_amount", pa.float64()),
    "median_amount": ("median_amount", pa.float64()),
    "10th_percentile": ("percentile_10th", pa.float64()),
    "90th_percentile": ("percentile_90th", pa.float64()),
    "count": ("allowed_amount_count", pa.string()),
    "additional_payer_notes": ("additional_payer_notes", pa.string()),
}
PAYER_KEYS = frozenset(PAYER_FIELDS)
# The payer records' columns as published (JSON keys), for polars' own reading of the dicts.
PAYER_SCHEMA = {key: pl.Float64 if arrow_type == pa.float64() else pl.String for key, (_, arrow_type) in PAYER_FIELDS.items()}
CHARGE_FIELDS = {
    "setting": "setting",
    "gross_charge": "gross_charge",
    "discounted_cash": "discounted_cash",
    "minimum": "deidentified_min",
    "maximum": "deidentified_max",
    "additional_generic_notes": "additional_generic_notes",
    "billing_class": "billing_class",
    "modifier_code": "modifiers",
}
CHARGE_KEYS = set(CHARGE_FIELDS) | {"payers_information"}
ITEM_KEYS = {"description", "code_information", "drug_information", "standard_charges"}
CODE_KEYS = {"code", "type"}
DRUG_KEYS = {"unit", "type"}
_NO_DRUG: dict = {}
NUMBER_KEYS = {"gross_charge", "discounted_cash", "minimum", "maximum"}


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _column(values: list, numeric: bool) -> pa.Array:
    """An Arrow array of published values: float64 when every value is a number, else text
    (numbers written as JSON strings, "$12.00", are then parsed by the normalizer)."""
    if numeric:
        try:
            return pa.array(values, type=pa.float64())
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            pass
    try:
        return pa.array(values, type=pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None else (v if isinstance(v, str) else _text(v)) for v in values], type=pa.string())


def _text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value) if isinstance(value, float) else str(value)
    return None  # objects and arrays where text belongs: not carried


@dataclass
class _Batch:
    """Flattened records of a run of items, built column by column."""

    item_index: list[int] = field(default_factory=list)  # per item row
    item_fields: dict[str, list] = field(default_factory=dict)
    charge_item: list[int] = field(default_factory=list)  # per standard-charge row: item row
    charge_index: list[int] = field(default_factory=list)  # position within the item's list
    charge_fields: dict[str, list] = field(default_factory=lambda: {k: [] for k in CHARGE_FIELDS})
    payer_counts: list[int] = field(default_factory=list)  # per standard-charge row: its payer rows
    has_payers: list[bool] = field(default_factory=list)  # per standard-charge row: False, one row for it
    payer_rows: int = 0
    payer_frames: list[pl.DataFrame] = field(default_factory=list)
    pending_payers: list = field(default_factory=list)
    # What flattening found, merged into the result by `flush` (flattening runs on its own thread).
    rows_read: int = 0
    not_carried: Counter = field(default_factory=Counter)
    rejects: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class _Prepared:
    """A batch turned into Arrow (all the work that needs Python objects), ready for `flush`."""

    batch: _Batch
    payers: pl.DataFrame | None  # JSON keys as column names
    charges: pa.Table
    items: pa.Table
    indices: dict[str, pa.Array]  # charge_item, charge_index, payer_counts, has_payers (per charge); item_index


class _JsonReader:
    def __init__(self, source_path: Path, result: ParseResult, constants: RowConstants) -> None:
        self.source_path = source_path
        self.result = result
        self.constants = constants
        self.seen = SeenRows()
        self.labels = Labels(
            by_field={
                **{field_: f"standard_charge_information[].standard_charges[].payers_information[].{key}" for key, (field_, _) in PAYER_FIELDS.items()},
                **{field_: f"standard_charge_information[].standard_charges[].{key}" for key, field_ in CHARGE_FIELDS.items()},
                "description": "standard_charge_information[].description",
                "drug_unit_of_measurement": "standard_charge_information[].drug_information.unit",
                "drug_type_of_measurement": "standard_charge_information[].drug_information.type",
            }
        )
        self.payer_plans: set[tuple[str | None, str | None]] = set()
        self.max_codes = 0

    # -- flattening ----------------------------------------------------------------------------

    @staticmethod
    def _not_carried(batch: _Batch, where: str, count: int = 1) -> None:
        batch.not_carried[where] += count

    def add_item(self, batch: _Batch, index: int, item: Any) -> None:
        if not isinstance(item, dict):
            batch.rows_read += 1
            batch.rejects.append(("not_an_object", f"/standard_charge_information/{index}"))
            return
        row = len(batch.item_index)
        batch.item_index.append(index)
        fields = batch.item_fields
        if not fields:
            fields.update(description=[], drug_unit_of_measurement=[], drug_type_of_measurement=[])
            for slot in range(1, self.max_codes + 1):
                fields[f"code_{slot}"] = []
                fields[f"code_type_{slot}"] = []
        fields["description"].append(item.get("description"))
        codes = item.get("code_information")
        if isinstance(codes, list):
            if len(codes) > self.max_codes:
                for slot in range(self.max_codes + 1, len(codes) + 1):
                    fields[f"code_{slot}"] = [None] * row
                    fields[f"code_type_{slot}"] = [None] * row
                self.max_codes = len(codes)
            for slot in range(1, self.max_codes + 1):
                entry = codes[slot - 1] if slot <= len(codes) else None
                if isinstance(entry, dict):
                    fields[f"code_{slot}"].append(entry.get("code"))
                    fields[f"code_type_{slot}"].append(entry.get("type"))
                    if not entry.keys() <= CODE_KEYS:
                        for key in entry.keys() - CODE_KEYS:
                            if not _is_empty(entry[key]):
                                self._not_carried(batch, f"standard_charge_information[].code_information[].{key}")
                else:
                    fields[f"code_{slot}"].append(None)
                    fields[f"code_type_{slot}"].append(None)
                    if entry is not None and not _is_empty(entry):
                        self._not_carried(batch, "standard_charge_information[].code_information[]")
        else:
            for slot in range(1, self.max_codes + 1):
                fields[f"code_{slot}"].append(None)
                fields[f"code_type_{slot}"].append(None)
            if not _is_empty(codes):
                self._not_carried(batch, "standard_charge_information[].code_information")
        drug = item.get("drug_information")
        if not isinstance(drug, dict):
            if not _is_empty(drug):
                self._not_carried(batch, "standard_charge_information[].drug_information")
            drug = _NO_DRUG
        fields["drug_unit_of_measurement"].append(drug.get("unit"))
        fields["drug_type_of_measurement"].append(drug.get("type"))
        if not drug.keys() <= DRUG_KEYS:
            for key in drug.keys() - DRUG_KEYS:
                if not _is_empty(drug[key]):
                    self._not_carried(batch, f"standard_charge_information[].drug_information.{key}")
        if not item.keys() <= ITEM_KEYS:
            for key in item.keys() - ITEM_KEYS:
                if not _is_empty(item[key]):
                    self._not_carried(batch, f"standard_charge_information[].{key}")
        charges = item.get("standard_charges")
        if not isinstance(charges, list) or not charges:
            if not _is_empty(charges):
                self._not_carried(batch, "standard_charge_information[].standard_charges")
            self._add_charge(batch, row, -1, {})
            return
        for position, charge in enumerate(charges):
            if not isinstance(charge, dict):
                batch.rows_read += 1
                batch.rejects.append(("not_an_object", f"/standard_charge_information/{index}/standard_charges/{position}"))
                continue
            self._add_charge(batch, row, position, charge)

    def _add_charge(self, batch: _Batch, item_row: int, position: int, charge: dict) -> None:
        batch.charge_item.append(item_row)
        batch.charge_index.append(position)
        for key, values in batch.charge_fields.items():
            values.append(charge.get(key))
        if not charge.keys() <= CHARGE_KEYS:
            for key in charge.keys() - CHARGE_KEYS:
                if not _is_empty(charge[key]):
                    self._not_carried(batch, f"standard_charge_information[].standard_charges[].{key}")
        payers = charge.get("payers_information")
        if isinstance(payers, list) and payers:
            batch.pending_payers.extend(payers)
            batch.payer_counts.append(len(payers))
            batch.has_payers.append(True)
            batch.payer_rows += len(payers)
            if len(batch.pending_payers) >= PAYERS_PER_CONVERSION:
                self._convert_payers(batch)
        else:
            if not _is_empty(payers):
                self._not_carried(batch, "standard_charge_information[].standard_charges[].payers_information")
            batch.pending_payers.append(None)
            batch.payer_counts.append(1)
            batch.has_payers.append(False)
            batch.payer_rows += 1

    def _convert_payers(self, batch: _Batch) -> None:
        payers = batch.pending_payers
        if not payers:
            return
        try:
            # Polars reads the dicts twice as fast as pyarrow. Values of the wrong shape (a
            # string where a number belongs, an object where text belongs) raise here, and take
            # the careful path. (Like pyarrow, it reads a boolean in a number field as 0 or 1.)
            frame = pl.from_dicts(payers, schema=PAYER_SCHEMA, strict=True)
            # Keys outside the CMS set would be dropped silently: when the records hold more keys
            # than the frame has values (unknown keys, or keys whose value is null), look closer.
            values = frame.height * frame.width - sum(frame.null_count().row(0))
            if sum(map(len, filter(None, payers))) != values:
                keys = set().union(*(p for p in payers if p is not None))
                if not keys <= PAYER_KEYS:
                    frame = self._convert_payers_carefully(batch, payers)
        except (pl.exceptions.PolarsError, TypeError, ValueError, OverflowError):
            frame = self._convert_payers_carefully(batch, payers)
        batch.payer_frames.append(frame)
        payers.clear()

    def _convert_payers_carefully(self, batch: _Batch, payers: list) -> pl.DataFrame:
        columns: dict[str, list] = {key: [] for key in PAYER_FIELDS}
        for payer in payers:
            if not isinstance(payer, dict):
                payer = {} if payer is None else {"__not_an_object__": payer}
            for key, values in columns.items():
                values.append(payer.get(key))
            for key in payer.keys() - PAYER_FIELDS.keys():
                if not _is_empty(payer[key]):
                    self._not_carried(batch, f"standard_charge_information[].standard_charges[].payers_information[].{key}")
        arrays = {}
        for key, values in columns.items():
            arrow_type = PAYER_FIELDS[key][1]
            column = _column(values, numeric=arrow_type == pa.float64())
            if column.type == pa.string():
                for v in values:
                    if v is not None and not isinstance(v, (str, int, float, bool)) and not _is_empty(v):
                        self._not_carried(batch, f"standard_charge_information[].standard_charges[].payers_information[].{key}")
            arrays[key] = column
        return pl.from_arrow(pa.table(arrays))

    # -- batches -------------------------------------------------------------------------------

    def prepare(self, batch: _Batch) -> _Prepared:
        """Everything that needs the flattened Python objects: done on the reading thread."""
        self._convert_payers(batch)
        payers = None
        if batch.payer_frames:
            # A column read as text in one part (a "$12.00" among numbers) makes it text in all.
            payers = pl.concat(batch.payer_frames, how="vertical_relaxed") if len(batch.payer_frames) > 1 else batch.payer_frames[0]
        charges = pa.table(
            {
                CHARGE_FIELDS[key]: (
                    _column(values, numeric=key in NUMBER_KEYS)
                    if key != "modifier_code"
                    else pa.array([_modifier_list(v) for v in values], type=pa.list_(pa.string()))
                )
                for key, values in batch.charge_fields.items()
            }
        )
        items = pa.table(
            {name: _column(values, numeric=name == "drug_unit_of_measurement") for name, values in batch.item_fields.items()}
        )
        indices = {
            name: pa.array(getattr(batch, name), type=pa.bool_() if name == "has_payers" else pa.int64())
            for name in ("charge_item", "charge_index", "payer_counts", "has_payers", "item_index")
        }
        prepared = _Prepared(batch, payers, charges, items, indices)
        # The Python objects are no longer needed.
        batch.item_fields = {}
        batch.charge_fields = {}
        batch.payer_frames = []
        batch.charge_item = batch.charge_index = batch.payer_counts = batch.has_payers = batch.item_index = []
        return prepared

    def flush(self, prepared: _Prepared) -> pl.DataFrame | None:
        result = self.result
        batch = prepared.batch
        # What flattening found, in file order.
        result.rows_read += batch.rows_read
        result.cells_not_carried.update(batch.not_carried)
        for reason, path in batch.rejects:
            result.rejects.add(reason, 1, [path])
        if prepared.payers is None or not batch.payer_rows:
            return None
        # One chunk (the reading thread hands over many small ones): every step below is faster.
        payer_frame = prepared.payers.rename({key: PAYER_FIELDS[key][0] for key in prepared.payers.columns}).rechunk()
        charge_frame = pl.from_arrow(prepared.charges)
        item_frame = pl.from_arrow(prepared.items)
        charge_item, charge_index, payer_counts, has_payers, item_index = (
            pl.Series(prepared.indices[name])
            for name in ("charge_item", "charge_index", "payer_counts", "has_payers", "item_index")
        )
        # Per payer row: its standard charge, and its position in payers_information (-1: the
        # row of a standard charge without payers).
        starts = payer_counts.cum_sum() - payer_counts
        total = int(payer_counts.sum())
        marks = pl.repeat(0, total, eager=True, dtype=pl.Int64).scatter(starts.slice(1), 1) if len(starts) > 1 else pl.repeat(0, total, eager=True, dtype=pl.Int64)
        payer_charge = marks.cum_sum()
        payer_index = pl.select(
            pl.when(pl.lit(has_payers.gather(payer_charge)))
            .then(pl.int_range(0, total, dtype=pl.Int64) - pl.lit(starts.gather(payer_charge)))
            .otherwise(-1)
        ).to_series()
        row_item = charge_item.gather(payer_charge)
        n = len(payer_charge)
        result.rows_read += n

        # Empty payer objects ({}) carry nothing: count them as rejected, not as rows.
        payer_present = payer_index >= 0
        payer_cols = payer_frame.columns
        empty_payer = payer_present & ~payer_frame.select(
            pl.any_horizontal([pl.col(c).is_not_null() for c in payer_cols]) if payer_cols else pl.lit(False)
        ).to_series()
        # A record's content hash combines its item's, its standard charge's and its own, each
        # level hashed once. Code slots are joined so that a batch with more (empty) slots hashes
        # an item the same way.
        code_columns = [c for c in item_frame.columns if c.startswith("code_")]
        item_hash = item_frame.select(
            pl.struct(
                pl.all().exclude(code_columns),
                (
                    pl.concat_str([pl.col(c).cast(pl.String) for c in code_columns], separator="\x1f", ignore_nulls=True)
                    if code_columns
                    else pl.lit("")  # what joining only empty slots gives
                ).alias("_codes"),
            ).hash(HASH_SEED)
        ).to_series()
        charge_hash = charge_frame.with_columns(pl.col("modifiers").list.join("|")).select(pl.struct(pl.all()).hash(HASH_SEED)).to_series()
        payer_hash = payer_frame.select(pl.struct(pl.all()).hash(HASH_SEED)).to_series() if payer_cols else pl.repeat(0, n, eager=True, dtype=pl.UInt64)
        hashes = pl.DataFrame({"i": item_hash.gather(row_item), "c": charge_hash.gather(payer_charge), "p": payer_hash}).select(
            pl.struct(pl.all()).hash(HASH_SEED)
        ).to_series()
        first = self.seen.first_occurrences(hashes)
        item_number = item_index.gather(row_item).cast(pl.String)
        charge_number = charge_index.gather(payer_charge)
        paths = pl.select(
            pl.concat_str(
                pl.lit("/standard_charge_information/"), pl.lit(item_number),
                pl.lit("/standard_charges/"), pl.lit(charge_number.cast(pl.String)),
                pl.lit("/payers_information/"), pl.lit(payer_index.cast(pl.String)),
            )
        ).to_series()
        if not payer_present.all():
            # Standard charges without payers, and items without standard charges.
            shorter = pl.select(
                pl.when(pl.lit(charge_number) >= 0)
                .then(pl.concat_str(pl.lit("/standard_charge_information/"), pl.lit(item_number), pl.lit("/standard_charges/"), pl.lit(charge_number.cast(pl.String))))
                .otherwise(pl.concat_str(pl.lit("/standard_charge_information/"), pl.lit(item_number)))
            ).to_series()
            paths = pl.select(pl.when(pl.lit(payer_present)).then(pl.lit(paths)).otherwise(pl.lit(shorter))).to_series()
        if empty_payer.any():
            result.rejects.add("empty_record", int(empty_payer.sum()), paths.filter(empty_payer).head(EXAMPLES_PER_REASON).to_list())
        duplicate = ~first & ~empty_payer
        if duplicate.any():
            count = int(duplicate.sum())
            result.rejects.add("duplicate_row", count, [f"{p} (repeats an earlier record exactly)" for p in paths.filter(duplicate).head(EXAMPLES_PER_REASON).to_list()])
            result.duplicates_dropped += count
        keep = first & ~empty_payer
        result.source_rows_landed += int(keep.sum())

        # Normalize each level once, then gather to the kept rows.
        kept_charge = payer_charge.filter(keep)
        kept_item = row_item.filter(keep)
        item_level = normalize_level(item_frame, result, self.labels, count_codes=True)
        charge_level = normalize_level(charge_frame, result, self.labels)
        payer_level = normalize_level(payer_frame.filter(keep), result, self.labels)
        table = assemble(
            int(keep.sum()),
            [item_level.gather(kept_item), charge_level.gather(kept_charge), payer_level],
            self.constants,
            result,
            source_json_path=paths.filter(keep),
        )
        result.rows_written += table.height
        if "payer_name" in table.columns:
            self.payer_plans.update(table.select("payer_name", "plan_name").unique().iter_rows())
        return table

    def modifier_rows(self, modifiers: Any) -> pl.DataFrame | None:
        """`modifier_information` entries: one row per modifier × payer/plan (or per modifier)."""
        if not isinstance(modifiers, list) or not modifiers:
            return None
        result = self.result
        records: list[dict] = []
        for i, modifier in enumerate(modifiers):
            path = f"/modifier_information/{i}"
            if not isinstance(modifier, dict):
                result.rows_read += 1
                result.rejects.add("not_an_object", 1, [path])
                continue
            base = {
                "description": modifier.get("description"),
                "modifiers": _modifier_list(modifier.get("code")),
                "setting": modifier.get("setting"),
            }
            for key in modifier.keys() - {"description", "code", "setting", "modifier_payer_information"}:
                if not _is_empty(modifier[key]):
                    result.cells_not_carried[f"modifier_information[].{key}"] += 1
            payers = modifier.get("modifier_payer_information")
            if isinstance(payers, list) and payers:
                for k, payer in enumerate(payers):
                    result.rows_read += 1
                    if not isinstance(payer, dict):
                        result.rejects.add("not_an_object", 1, [f"{path}/modifier_payer_information/{k}"])
                        continue
                    for key in payer.keys() - {"payer_name", "plan_name", "description"}:
                        if not _is_empty(payer[key]):
                            result.cells_not_carried[f"modifier_information[].modifier_payer_information[].{key}"] += 1
                    records.append(
                        {**base, "payer_name": payer.get("payer_name"), "plan_name": payer.get("plan_name"),
                         "additional_payer_notes": payer.get("description"),
                         "_path": f"{path}/modifier_payer_information/{k}"}
                    )
            else:
                result.rows_read += 1
                records.append({**base, "_path": path})
        if not records:
            return None
        frame = pl.DataFrame(
            records,
            schema={"description": pl.String, "modifiers": pl.List(pl.String), "setting": pl.String,
                    "payer_name": pl.String, "plan_name": pl.String, "additional_payer_notes": pl.String,
                    "_path": pl.String},
        )
        result.source_rows_landed += frame.height
        level = normalize_level(frame.drop("_path"), result, self.labels)
        table = assemble(frame.height, [level], self.constants, result, source_json_path=frame["_path"])
        result.rows_written += table.height
        self.payer_plans.update(table.select("payer_name", "plan_name").unique().iter_rows())
        return table


def _modifier_list(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, list):
        parts = [str(v).strip() for v in value if v is not None and str(v).strip()]
    else:
        parts = nz.split_pipe_list(str(value))
    return parts or None


# -- root metadata --------------------------------------------------------------------------------


def _read_head(path: Path, skip: int) -> tuple[dict[str, Any], bool]:
    """The root's keys before the item array, and whether there is one."""
    with open(path, "rb") as handle:
        handle.seek(skip)
        return _JsonText(handle, path, item_index=lambda: 0).head()


def _metadata_from_root(root: dict[str, Any]) -> FileMetadata:
    meta = FileMetadata()
    meta.hospital_name = _text_value(root.get("hospital_name"))
    meta.last_updated_on_as_published = _text_value(root.get("last_updated_on"))
    meta.last_updated_on = nz.parse_date(meta.last_updated_on_as_published)
    meta.version = _text_value(root.get("version"))
    locations = root.get("location_name", root.get("hospital_location"))
    meta.location_names = _text_list(locations)
    meta.hospital_addresses = _text_list(root.get("hospital_address"))
    meta.type_2_npi = _text_list(root.get("type_2_npi"))
    license_info = root.get("license_information")
    if isinstance(license_info, dict):
        meta.license_number = _text_value(license_info.get("license_number"))
        meta.license_state = (_text_value(license_info.get("state")) or "").upper() or None
    attestation = root.get("attestation", root.get("affirmation"))
    if isinstance(attestation, dict):
        meta.attestation_text = _text_value(attestation.get("attestation", attestation.get("affirmation")))
        meta.attestation_confirmed = nz.parse_bool(attestation.get("confirm_attestation", attestation.get("confirm_affirmation")))
        meta.attester_name = _text_value(attestation.get("attester_name"))
    meta.financial_aid_policy = _text_value(root.get("financial_aid_policy"))
    meta.general_contract_provisions = root.get("general_contract_provisions")
    known = {"hospital_name", "last_updated_on", "version", "location_name", "hospital_location",
             "hospital_address", "type_2_npi", "license_information", "attestation", "affirmation",
             "financial_aid_policy", "general_contract_provisions", "modifier_information",
             "standard_charge_information"}
    for key, value in root.items():
        if key not in known:
            meta.extra[key] = value
    return meta


def _text_value(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    return _text(value)


def _text_list(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v).strip() for v in value if v is not None and str(v).strip()]
    if isinstance(value, str):
        return nz.split_pipe_list(value)
    return []


def parse_cms_json(
    source_path: Path, out_path: Path, *, provenance: Provenance, parser_version: str, work_dir: Path
) -> ParseResult:
    # Only the head is checked up front; the rest is decoded strictly as it is read.
    return parse_as_utf8(
        _parse_text, source_path, out_path, work_dir=work_dir, provenance=provenance, parser_version=parser_version
    )


def _parse_text(
    source_path: Path, text_path: Path, out_path: Path, encoding_name: str, fallback_bytes: int, *,
    provenance: Provenance, parser_version: str,
) -> ParseResult:
    with open(text_path, "rb") as handle:
        skip = len(codecs.BOM_UTF8) if handle.read(3) == codecs.BOM_UTF8 else 0
    head, has_items = _read_head(text_path, skip)
    if not has_items and "standard_charge_information" not in head:
        raise NotACmsTemplateError(
            source_path, "$",
            "expected a JSON object with a standard_charge_information array; root keys are "
            + (", ".join(sorted(head)[:10]) or "(none)"),
        )
    result = ParseResult(
        source_path=str(source_path), format="json", layout="json",
        cms_version="2", encoding=encoding_name, parser_version=parser_version,
        schema_version=SCHEMA_VERSION, transcoded_bytes=fallback_bytes,
    )
    _read_items(source_path, text_path, skip, out_path, provenance, result, head)
    return result


def _version_of(root: dict[str, Any]) -> str:
    v3 = bool(ROOT_KEYS_V3 & root.keys())
    return cms_version(_text_value(root.get("version")), v3)


def _read_items(
    source_path: Path, text_path: Path, skip: int, out_path: Path, provenance: Provenance,
    result: ParseResult, head: dict[str, Any],
) -> None:
    result.metadata = _metadata_from_root(head)
    result.cms_version = _version_of(head)
    constants = RowConstants.of(provenance, result)
    reader = _JsonReader(source_path, result, constants)
    state: dict[str, Any] = {"root": head}

    def read(put) -> None:
        """Parse and flatten the items, handing each batch, in Arrow, to `put`; then note the
        root's keys (those after the items too)."""
        progress = {"batch": _Batch(), "index": 0}

        def on_items(items) -> None:
            for item in items:
                reader.add_item(progress["batch"], progress["index"], item)
                progress["index"] += 1
                if progress["batch"].payer_rows >= ROWS_PER_BATCH:
                    put(reader.prepare(progress["batch"]))
                    progress["batch"] = _Batch()

        with open(text_path, "rb") as handle:
            handle.seek(skip)
            root = _JsonText(handle, source_path, item_index=lambda: progress["index"]).root_object(on_items)
        put(reader.prepare(progress["batch"]))
        state["root"] = {**head, **root}

    def batches():
        # Parsing and flattening hold the interpreter; normalizing and writing (polars)
        # mostly run outside it. Parsing on its own thread lets the two share the machine.
        for prepared in _in_background(read):
            table = reader.flush(prepared)
            if table is not None:
                yield table
        table = reader.modifier_rows(state["root"].get("modifier_information"))
        if table is not None:
            yield table

    first_pass = out_path.with_name(f".{out_path.name}.items.tmp")
    try:
        with _short_interpreter_switches():
            write_table(batches(), first_pass, parser_version=result.parser_version)
        root = state["root"]
        result.metadata = _metadata_from_root(root)
        result.cms_version = _version_of(root)
        final = RowConstants.of(provenance, result)
        if final != constants:
            # Root keys that follow the items changed a per-row value: rewrite those columns.
            _rewrite_constants(first_pass, out_path, final)
        else:
            os.replace(first_pass, out_path)
    finally:
        remove_quietly(first_pass)
    result.payer_plans = len({k for k in reader.payer_plans if k != (None, None)})


_DECODER = json.JSONDecoder()
_WHITESPACE = re.compile(r"[ \t\n\r]*")
# Text read at a time; a value that does not fit is read on at twice its size each time.
TEXT_CHUNK_BYTES = 4 * 1024 * 1024
# How often the reading thread offers the interpreter lock to the normalizing one, in seconds
# (Python's default is 0.005; see _short_interpreter_switches).
SWITCH_INTERVAL_SECONDS = 0.0005
# Text kept ahead of the value being decoded, so that few items are cut by the end of the text.
READ_AHEAD_CHARS = 1024 * 1024
# A decoding error this close to the end of the text read so far may just be that end.
_NEAR_END = 16


class _JsonText:
    """A JSON document read as text in chunks, walked at its root and along the item array."""

    def __init__(self, handle, source_path: Path, item_index) -> None:
        self.handle = handle
        self.source_path = source_path
        self.item_index = item_index  # the item being read, for error locations
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.text = ""
        self.pos = 0
        self.base_bytes = handle.tell()  # byte offset of self.text[0] in the file
        self.ascii = True
        self.eof = False
        self.in_items = False

    def _read_more(self, at_least: int = 0) -> None:
        data = self.handle.read(max(at_least, TEXT_CHUNK_BYTES))
        if self.ascii and not data.isascii():
            self.ascii = False
        try:
            decoded = self.decoder.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            raise NotUtf8Error() from exc
        consumed = self.text[: self.pos]
        self.base_bytes += len(consumed) if self.ascii else len(consumed.encode("utf-8"))
        self.text = self.text[self.pos :] + decoded
        self.pos = 0
        self.eof = not data

    def _fail(self, pos: int, message: str) -> ParseError:
        where = f"/standard_charge_information/{self.item_index()}" if self.in_items else "$"
        offset = self.base_bytes + (pos if self.ascii else len(self.text[:pos].encode("utf-8")))
        return ParseError(self.source_path, f"{where} (byte {offset})", f"invalid JSON: {message}")

    def _peek(self) -> str:
        """The next character that is not whitespace ("" at the end), left unread."""
        while True:
            self.pos = _WHITESPACE.match(self.text, self.pos).end()
            if self.pos < len(self.text):
                return self.text[self.pos]
            if self.eof:
                return ""
            self._read_more()

    def _expect(self, char: str, what: str) -> None:
        found = self._peek()
        if found != char:
            raise self._fail(self.pos, f"expected {what}, found {found!r}" if found else f"expected {what}, found the end of the file")
        self.pos += 1

    def _value(self) -> Any:
        self._peek()  # raw_decode does not skip leading whitespace
        if len(self.text) - self.pos < READ_AHEAD_CHARS and not self.eof:
            # Read on before an item is cut by the end of the text: a failed decode costs a scan.
            self._read_more()
        while True:
            try:
                value, end = _DECODER.raw_decode(self.text, self.pos)
            except json.JSONDecodeError as exc:
                # Either the value goes on past the text read so far (read on, then decode it
                # again) or the error is real: it stays where it is with more text after it.
                near_end = exc.pos >= len(self.text) - _NEAR_END or exc.msg.startswith("Unterminated string")
                if self.eof or not near_end:
                    raise self._fail(exc.pos, exc.msg) from None
                self._read_more(at_least=2 * (len(self.text) - self.pos))
                continue
            if end >= len(self.text) - _NEAR_END and not self.eof:
                # A number (or literal) at the very end may go on in the text not yet read.
                self._read_more(at_least=2 * (len(self.text) - self.pos))
                continue
            self.pos = end
            return value

    def _items(self):
        self.in_items = True
        if self._peek() == "]":
            self.pos += 1
        else:
            while True:
                yield self._value()
                if self._peek() == ",":
                    self.pos += 1
                    continue
                self._expect("]", "',' or ']' after an item")
                break
        self.in_items = False

    def head(self) -> tuple[dict[str, Any], bool]:
        """The root's keys before the item array, and whether there is one (read no further)."""
        if self._peek() == "[":
            raise NotACmsTemplateError(self.source_path, "$", "the JSON root is an array; a CMS file is an object with standard_charge_information")
        root: dict[str, Any] = {}

        def stop(items) -> None:
            raise _ItemsReached()

        try:
            self.root_object(stop, root)
        except _ItemsReached:
            return root, True
        return root, False

    def root_object(self, on_items, root: dict[str, Any] | None = None) -> dict[str, Any]:
        """The root's keys other than the items (into `root`); `on_items` is handed the items as
        they come."""
        root = {} if root is None else root
        self._expect("{", "a JSON object at the root")
        while self._peek() != "}":  # (an empty root skips the loop)
            if self._peek() != '"':
                raise self._fail(self.pos, "expected a key")
            key = self._value()
            self._expect(":", "':' after a key")
            if key == "standard_charge_information" and self._peek() == "[":
                self.pos += 1
                on_items(self._items())
            else:
                root[key] = self._value()
            if self._peek() != ",":
                break
            self.pos += 1
            if self._peek() != '"':
                raise self._fail(self.pos, "expected a key after ','")
        self._expect("}", "',' or '}' after a root value")
        if self._peek():
            raise self._fail(self.pos, "expected the end of the file after the root object")
        return root


@contextlib.contextmanager
def _short_interpreter_switches():
    """While the reading thread holds the interpreter lock nearly all the time, the normalizing
    thread needs it back after each of its many polars calls, and by default waits up to 5 ms
    each time: its batches then take three times as long as alone, and parsing waits for them.
    A shorter switch interval (for the parse only) lets the two run side by side."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(min(previous, SWITCH_INTERVAL_SECONDS))
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


class _ItemsReached(Exception):
    pass


_DONE = object()


def _in_background(produce, depth: int = 2):
    """Run `produce(put)` on a thread and yield what it puts, in order; its exception, if any, is
    raised here. Stopping early (an error downstream) stops the thread at its next `put`."""
    handoff: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(value) -> None:
        while not stop.is_set():
            try:
                handoff.put(value, timeout=0.1)
                return
            except queue.Full:
                continue
        raise _Stopped()

    def run() -> None:
        try:
            produce(put)
            put(_DONE)
        except _Stopped:
            pass
        except BaseException as exc:  # handed to the consumer, raised there
            try:
                put(_Failed(exc))
            except _Stopped:
                pass

    thread = threading.Thread(target=run, name="glimmr-json-reader", daemon=True)
    thread.start()
    try:
        while True:
            value = handoff.get()
            if value is _DONE:
                return
            if isinstance(value, _Failed):
                raise value.error
            yield value
    finally:
        stop.set()
        thread.join()


class _Stopped(Exception):
    pass


@dataclass
class _Failed:
    error: BaseException


def _rewrite_constants(source: Path, out_path: Path, constants: RowConstants) -> None:
    frame = pl.scan_parquet(source)
    schema = frame.collect_schema()
    frame = frame.with_columns([pl.lit(v, dtype=schema[k]).alias(k) for k, v in constants.values().items()])
    write_table(iter(frame.collect_batches()), out_path, parser_version=constants.parser_version)
