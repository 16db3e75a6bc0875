"""Vectorized normalization of parsed batches into the standard-charges table.

Every format reader turns its source into polars batches of *canonical fields* (the table's column
names, still as published: strings from CSV/XLSX, numbers and strings from JSON), one frame per
level of the source (item, setting, payer). `normalize_level` normalizes one such frame and
`assemble` gathers the levels into table rows.

Speed matters here (a tall CSV of a gigabyte is millions of rows), so each rule takes a cheap
vectorized path for values that are already clean, and only the distinct values that are not go
through the scalar functions of `glimmr_dagster.lib.normalize` (each distinct value once per
process, through a bounded cache). Those functions stay the single definition of every rule; the
fast checks only recognize values they would return unchanged, and the one fast path that
computes a value (plain "$1,234.50" currency, see `_DOLLARS`) is checked against
`normalize.parse_number` by the tests.

A level costs a fixed, small number of polars queries whatever its columns: one that checks every
column at once (which numbers failed the plain cast, which reach placeholder size, the distinct
names and enumeration values), one that computes every output column and flag mask, and, only
when something was found, one that looks up the distinct failing values and one that counts them.
Low-cardinality columns may arrive as categories (the CSV reader casts them while parsing); their
rules then remap the categories, not the rows. Codes are normalized once per run of rows with the
same code slots (an item's payer rows in a tall file) and given to every row of the run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

import polars as pl
import pyarrow as pa

from glimmr_dagster.lib import normalize as nz

from .result import ParseResult, Provenance
from .schema import COLUMN_NAMES, POLARS_SCHEMA

NUMBER_FIELDS = (
    "gross_charge", "discounted_cash", "negotiated_dollar", "negotiated_percentage",
    "estimated_amount", "median_amount", "percentile_10th", "percentile_90th",
    "deidentified_min", "deidentified_max", "drug_unit_of_measurement",
)
# Free text: kept exactly as published (a cell of only whitespace is empty).
TEXT_FIELDS = ("description", "negotiated_algorithm", "additional_generic_notes", "additional_payer_notes")
# Names: few distinct values, trimmed.
NAME_FIELDS = ("payer_name", "plan_name")
ENUM_FIELDS: dict[str, tuple[Callable[[str | None], tuple[str | None, bool]], str]] = {
    "setting": (nz.normalize_setting, "unknown_setting"),
    "methodology": (nz.normalize_methodology, "unknown_methodology"),
    "billing_class": (nz.normalize_billing_class, "unknown_billing_class"),
    "drug_type_of_measurement": (nz.normalize_drug_unit_type, "unknown_drug_type"),
    "allowed_amount_count": (nz.normalize_count, "invalid_count"),
}
# Anything at or above this may be a nine-9s placeholder; only those few values are examined.
PLACEHOLDER_FLOOR = 9_999_999.0
# Spreadsheet currency ("$1,234.50", "$80"): the most common text in number columns. For these
# normalize.parse_number only drops "$" and the thousands commas, so they are read in polars.
_DOLLARS = r"^\$(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?$"

# A code whose text already has its type's normalized shape is returned unchanged by
# normalize.normalize_code, so only codes failing these checks go through it.
_CLEAN_CODE = {
    "CPT": r"^[0-9A-Z]{5}$",
    "HCPCS": r"^[A-Z0-9][0-9]{3}[0-9A-Z]$",
    "HIPPS": r"^[0-9A-Z]{5}$",
    "RC": r"^[0-9]{4}$",
    "NDC": r"^[0-9]{11}$",
    "ICD": r"^[0-9A-Z.]+$",
    "CDT": r"^[0-9A-Z]+$",
    "CMG": r"^[0-9A-Z]+$",
    **{t: r"^[0-9]{3}$" for t in nz.DRG_CODE_TYPES},
}
_TRIMMED = r"^\S(?:.*\S)?$"  # no surrounding whitespace: the only rule for every other type
_CMS_TYPES = frozenset(nz.CMS_CODE_TYPES)
_RANKING = {t: nz.primary_code_rank(t) for t in nz.PRIMARY_CODE_PRIORITY}
_WORST_RANK = len(nz.PRIMARY_CODE_PRIORITY) + 1

PRECAST_SUFFIX = "__f64"  # a reader may hand over `<field>__f64`, the field already cast
_CATEGORICAL = frozenset(name for name, dtype in POLARS_SCHEMA.items() if dtype == pl.Categorical)

# The scalar rules, each distinct value computed once (bounded: a column of junk cannot grow it).
_CACHE = 1 << 16
_parse_number = lru_cache(maxsize=_CACHE)(lambda text, allow_percent: nz.parse_number(text, allow_percent=allow_percent))
_is_placeholder = lru_cache(maxsize=_CACHE)(nz.is_placeholder_amount)
_normalize_code_type = lru_cache(maxsize=_CACHE)(nz.normalize_code_type)
_normalize_code = lru_cache(maxsize=_CACHE)(nz.normalize_code)
_normalize_payer_name = lru_cache(maxsize=_CACHE)(nz.normalize_payer_name)
_ENUM_RULES = {name: lru_cache(maxsize=_CACHE)(rule) for name, (rule, _) in ENUM_FIELDS.items()}


@dataclass
class Labels:
    """Maps a canonical field (and, for wide CSV, its payer block) to the source column name used
    in the per-column counts of the result."""

    by_field: dict[str, str] = field(default_factory=dict)
    by_block: dict[tuple[str, int], str] = field(default_factory=dict)

    def label(self, name: str, block: int | None = None) -> str:
        if block is not None and (name, block) in self.by_block:
            return self.by_block[(name, block)]
        return self.by_field.get(name, name)


@dataclass
class Level:
    """A normalized level: output columns plus the row masks of the flags it raised."""

    frame: pl.DataFrame
    flags: dict[str, pl.Series] = field(default_factory=dict)

    def gather(self, index: pl.Series) -> Level:
        if not self.flags:
            return Level(self.frame[index] if self.frame.width else self.frame)
        # Columns and flag masks in one gather.
        names = list(self.flags)
        both = self.frame.hstack([self.flags[n].alias(f"__flag{i}") for i, n in enumerate(names)])[index]
        masks = {n: both[f"__flag{i}"] for i, n in enumerate(names)}
        return Level(both.drop([f"__flag{i}" for i in range(len(names))]), masks)


def add_flag(flags: dict[str, pl.Series], name: str, mask: pl.Series) -> None:
    mask = mask.fill_null(False)
    flags[name] = flags[name] | mask if name in flags else mask


class _Counts:
    """Counts to take over the rows of masks, gathered so that they cost one query."""

    def __init__(self, labels: Labels, blocks: bool, keep: bool = False) -> None:
        self.labels = labels
        self.blocks = blocks
        self.keep = keep  # count only rows whose `_keep` column is true
        self.exprs: list[pl.Expr] = []
        self.targets: list[tuple] = []

    def cells(self, counter, name: str, mask: pl.Expr) -> None:
        """Add the True rows of `mask` to `counter` under the source column label."""
        mask = mask.fill_null(False)
        if self.keep:
            mask = mask & pl.col("_keep")
        alias = f"n{len(self.exprs)}"
        if self.blocks:
            self.exprs.append(pl.col("_block").filter(mask).value_counts(sort=False).implode().alias(alias))
        else:
            self.exprs.append(mask.sum().alias(alias))
        self.targets.append(("cells", counter, name))

    def values(self, result: ParseResult, name: str, column: pl.Expr, mask: pl.Expr) -> None:
        """Add each distinct value of `column` under `mask` to the result's unknown values."""
        alias = f"n{len(self.exprs)}"
        mask = mask.fill_null(False) & pl.col("_keep") if self.keep else mask.fill_null(False)
        self.exprs.append(column.filter(mask).value_counts(sort=False).implode().alias(alias))
        self.targets.append(("values", result, name))

    def run(self, frame: pl.DataFrame) -> None:
        if not self.exprs:
            return
        row = frame.select(self.exprs).row(0)
        for (kind, target, name), value in zip(self.targets, row):
            if kind == "values":
                for entry in value:
                    (column_value, n) = entry.values()
                    target.add_unknown_value(self.labels.label(name), column_value, n)
            elif self.blocks:
                for entry in value:
                    block, n = entry.values()
                    target[self.labels.label(name, block)] += n
            elif value:
                target[self.labels.label(name)] += value


def code_slots(columns: list[str]) -> list[int]:
    slots = set()
    for name in columns:
        if name.startswith("code_type_"):
            slots.add(int(name.rsplit("_", 1)[1]))
        elif name.startswith("code_") and name[5:].isdigit():
            slots.add(int(name[5:]))
    return sorted(slots)


def _text(name: str, dtype: pl.DataType) -> pl.Expr:
    return pl.col(name) if dtype == pl.String else pl.col(name).cast(pl.String)


def _distinct(name: str, dtype: pl.DataType) -> pl.Expr:
    if dtype == pl.Categorical:  # a reader may hand over low-cardinality text already categorical
        return pl.col(name).drop_nulls().unique().cast(pl.String).implode()
    return _text(name, dtype).drop_nulls().unique().implode()


def _remap(column: pl.Expr, dtype: pl.DataType, mapping: dict, *, default_self: bool = True) -> pl.Expr:
    """`column` with the values of `mapping` replaced (others kept, or null)."""
    if dtype == pl.Categorical:
        # Categories are remapped, not rows. (Every non-null value is a key when not default_self.)
        return column.replace(list(mapping), list(mapping.values()))
    default = column if default_self else None
    return column.replace_strict(list(mapping), list(mapping.values()), default=default, return_dtype=pl.String)


def normalize_level(
    raw: pl.DataFrame, result: ParseResult, labels: Labels, *, count_codes: bool = False, keep: pl.Series | None = None
) -> Level:
    """Normalize the canonical fields present in `raw` into table columns.

    A `_block` column (wide CSV) attributes per-column counts to the payer block's source column.
    Code slots arrive as `code_<n>` / `code_type_<n>` and leave as `codes`, `primary_code` and
    `primary_code_type`. With `count_codes`, the level's code types are added to
    `result.codes_by_type` (call it on the level that has one row per source item).

    With `keep` (a mask over `raw`), only those rows are returned and counted: cheaper than
    filtering `raw` first, since the table's columns are narrower than the published text.
    """
    if keep is not None and keep.all():
        keep = None
    if keep is not None:
        raw = raw.hstack([keep.alias("_keep")])
    schema = raw.schema
    columns = list(schema)
    blocks = "_block" in schema
    numbers = [c for c in columns if c in NUMBER_FIELDS]
    slots = code_slots(columns)

    # Numbers published as text (JSON counts) go through the count rule first, value by value.
    for name in columns:
        if name in ENUM_FIELDS and schema[name].is_numeric():
            raw = raw.with_columns(
                pl.col(name).map_elements(lambda v: nz.normalize_count(v)[0], return_dtype=pl.String)
            )
            schema = raw.schema

    # 1. One query of checks over every column.
    values: dict[str, pl.Expr] = {}
    checks: list[pl.Expr] = []
    for name in numbers:
        if name + PRECAST_SUFFIX in schema:
            v = pl.col(name + PRECAST_SUFFIX)
        elif schema[name] == pl.Float64:
            v = pl.col(name)
        else:
            v = pl.col(name).cast(pl.Float64, strict=False)
        values[name] = v
        checks.append((pl.col(name).is_not_null() & ~v.is_finite().fill_null(False)).any().alias(f"bad:{name}"))
        checks.append((v >= PLACEHOLDER_FLOOR).any().alias(f"big:{name}"))
    distinct_of = [c for c in columns if c in NAME_FIELDS or c in ENUM_FIELDS]
    for name in distinct_of:
        checks.append(_distinct(name, schema[name]).alias(f"distinct:{name}"))
    if "modifiers" in schema and schema["modifiers"] != pl.List(pl.String):
        checks.append(pl.col("modifiers").is_not_null().any().alias("any:modifiers"))
    stats = raw.select(checks).row(0, named=True) if checks else {}

    counts = _Counts(labels, blocks, keep is not None)
    flag_masks: dict[str, pl.Expr] = {}

    def flag(name: str, mask: pl.Expr) -> None:
        mask = mask.fill_null(False)
        flag_masks[name] = flag_masks[name] | mask if name in flag_masks else mask

    # 2. Numbers that failed the plain cast, or that may be placeholders: their distinct values.
    lookups: list[pl.Expr] = []
    for name in numbers:
        text = schema[name] == pl.String
        bad = pl.col(name).is_not_null() & ~values[name].is_finite().fill_null(False)
        if stats[f"bad:{name}"] and text:
            failed = pl.col(name).filter(bad).unique(maintain_order=True)  # one order in all three uses
            amounts = failed.str.replace_all(r"[$,]", "").cast(pl.Float64, strict=False)
            dollars = failed.str.contains(_DOLLARS) & amounts.is_finite()
            lookups.append(pl.struct(text=failed, amount=amounts, dollars=dollars).implode().alias(f"bad:{name}"))
        if stats[f"big:{name}"]:
            lookups.append(pl.col(name).filter((values[name] >= PLACEHOLDER_FLOOR).fill_null(False)).unique().implode().alias(f"big:{name}"))
    found = raw.select(lookups).row(0, named=True) if lookups else {}
    out: dict[str, pl.Expr] = {}
    for name in numbers:
        v = values[name]
        bad = pl.col(name).is_not_null() & ~v.is_finite().fill_null(False)
        hits = [x for x in found.get(f"big:{name}", ()) if _is_placeholder(x)]
        if stats[f"bad:{name}"]:
            if schema[name] != pl.String:
                # Parsed as a number, but not a finite one: NaN is a missing marker, as its text
                # would be; an infinity (or a number beyond float range) is not a number we carry.
                v = pl.when(v.is_finite()).then(v)
                counts.cells(result.missing_markers, name, pl.col(name).is_nan())
                infinite = pl.col(name).is_infinite()
                counts.cells(result.cells_not_carried, name, infinite)
                flag(f"not_a_number:{name}", infinite)
            else:
                allow_percent = name == "negotiated_percentage"
                parsed = {
                    f["text"]: nz.ParsedNumber(f["amount"], nz.NumberStatus.OK) if f["dollars"] else _parse_number(f["text"], allow_percent)
                    for f in found[f"bad:{name}"]
                }
                good = {t: p.value for t, p in parsed.items() if p.value is not None}
                if good:
                    repaired = pl.col(name).replace_strict(list(good), list(good.values()), default=None, return_dtype=pl.Float64)
                    v = pl.when(bad).then(repaired).otherwise(v)
                else:
                    v = pl.when(bad).then(pl.lit(None, dtype=pl.Float64)).otherwise(v)
                missing = [t for t, p in parsed.items() if p.status is nz.NumberStatus.MISSING]
                unparsable = [t for t, p in parsed.items() if p.status is nz.NumberStatus.UNPARSABLE]
                if missing:
                    counts.cells(result.missing_markers, name, pl.col(name).is_in(missing))
                if unparsable:
                    mask = pl.col(name).is_in(unparsable)
                    counts.cells(result.cells_not_carried, name, mask)
                    flag(f"not_a_number:{name}", mask)
                hits += [t for t, p in parsed.items() if p.value is not None and p.value >= PLACEHOLDER_FLOOR and _is_placeholder(t)]
        if hits:
            mask = pl.col(name).is_in(hits)
            counts.cells(result.placeholders, name, mask)
            flag(f"placeholder:{name}", mask)
        out[name] = v.alias(name)

    # 3. Text as published; names trimmed; enumerations mapped onto the CMS values.
    for name in columns:
        if name in TEXT_FIELDS:
            out[name] = _text(name, schema[name]).alias(name)
        elif name in NAME_FIELDS:
            changes = {v: v.strip() or None for v in stats[f"distinct:{name}"] if v != v.strip()}
            column = pl.col(name) if schema[name] == pl.Categorical else _text(name, schema[name])
            if changes:
                column = _remap(column, schema[name], changes)
            out[name] = column.alias(name)
        elif name in ENUM_FIELDS:
            rule = _ENUM_RULES[name]
            changes, unknown = {}, []
            for value in stats[f"distinct:{name}"]:
                normalized, known = rule(value)
                if normalized != value:
                    changes[value] = normalized
                if not known:
                    unknown.append(value)
            column = pl.col(name) if schema[name] == pl.Categorical else _text(name, schema[name])
            if unknown:
                mask = column.is_in(unknown)
                flag(ENUM_FIELDS[name][1], mask)
                counts.values(result, name, column, mask)
            if changes:
                column = _remap(column, schema[name], changes)
            out[name] = column.alias(name)
        elif name == "modifiers":
            if schema[name] == pl.List(pl.String):
                lists = pl.col(name)
            elif not stats["any:modifiers"]:
                lists = None
            else:
                lists = _text(name, schema[name]).str.split("|")
            if lists is None:
                out[name] = pl.lit(None, dtype=pl.List(pl.String)).alias(name)
            else:
                cleaned = lists.list.eval(pl.element().str.strip_chars().filter(pl.element().str.len_bytes() > 0))
                out[name] = pl.when(cleaned.list.len() > 0).then(cleaned).alias(name)
    if "payer_name" in schema:
        payers = {v.strip() for v in stats["distinct:payer_name"] if v.strip()}
        result.payers.update(payers)
        mapping = {v: _normalize_payer_name(v) for v in payers}
        out["payer_name_normalized"] = _remap(out["payer_name"], schema["payer_name"], mapping, default_self=False).alias(
            "payer_name_normalized"
        )

    # 4. Every output column and flag mask in one query; codes separately (they work on runs).
    exprs = [e.cast(POLARS_SCHEMA[n]) if n in _CATEGORICAL else e for n, e in out.items()]
    exprs += [m.alias(f"__flag:{n}") for n, m in flag_masks.items()]
    frame = raw.select(exprs) if exprs else pl.DataFrame()
    if keep is not None and frame.width:
        frame = frame.filter(keep)
    counts.run(raw)
    flags = {n: frame[f"__flag:{n}"] for n in flag_masks}
    if flag_masks:
        frame = frame.drop([f"__flag:{n}" for n in flag_masks])
    if slots:
        code_columns, code_flags = _normalize_codes(raw, schema, slots, count_codes, result, labels, keep)
        frame = frame.hstack(code_columns) if frame.width else pl.DataFrame(code_columns)
        for name, mask in code_flags.items():
            add_flag(flags, name, mask)
    return Level(frame, flags)


# A reader may hand over this column: a hash of the row's code slots, so runs are found by
# comparing one integer per row instead of every slot's text.
CODES_KEY = "_codes_key"


def _normalize_codes(
    raw: pl.DataFrame, schema, slots: list[int], count_codes: bool, result: ParseResult, labels: Labels,
    keep: pl.Series | None,
) -> tuple[list[pl.Series], dict[str, pl.Series]]:
    n = raw.height
    null = pl.lit(None, dtype=pl.String)
    names = [name for slot in slots for name in (f"code_{slot}", f"code_type_{slot}")]
    slot_exprs = [(_text(name, schema[name]) if name in schema else null).alias(name) for name in names]
    # Rows of one item sit together in tall files and repeat its codes: normalize each run of
    # identical codes once and give every row its run's result.
    # (The first row always starts one, also when all its slots are empty.)
    first_row = pl.int_range(pl.len()) == 0
    if CODES_KEY in schema:
        starts = pl.col(CODES_KEY).ne_missing(pl.col(CODES_KEY).shift(1)) | first_row
    else:
        starts = pl.any_horizontal([pl.col(name).ne_missing(pl.col(name).shift(1)) for name in names] + [first_row])
    frame = raw.select(slot_exprs + [starts.alias("_start")] + ([pl.col("_keep")] if keep is not None else []))
    runs = frame.select(pl.col(names).filter(pl.col("_start"))).rechunk()
    one_per_row = runs.height == n
    # The run of each row kept (None: row i is run i, every row kept).
    run_of_row = pl.col("_start").cast(pl.UInt32).cum_sum() - 1
    if one_per_row:
        row_runs = None if keep is None else pl.int_range(0, n, eager=True, dtype=pl.UInt32).filter(keep)
    else:
        row_runs = frame.select(run_of_row.filter(pl.col("_keep")) if keep is not None else run_of_row).to_series()
    counts = _Counts(labels, False, keep is not None)
    masks: dict[str, pl.Expr] = {}

    def flag(name: str, mask: pl.Expr) -> None:
        mask = mask.fill_null(False)
        masks[name] = masks[name] | mask if name in masks else mask

    # Code types onto the CMS enumeration (published values are flagged and counted, over every
    # row, when they are not CMS types). Every distinct value of a slot appears in some run.
    published = runs.select([pl.col(f"code_type_{s}").drop_nulls().unique().implode() for s in slots]).row(0)
    types: list[pl.Expr] = []
    present: list[set] = []
    for slot, distinct in zip(slots, published):
        t_name = f"code_type_{slot}"
        column = pl.col(t_name)
        present.append(set(distinct))
        if any(v not in _CMS_TYPES for v in distinct):
            changes, unknown = {}, []
            for value in distinct:
                normalized, known = _normalize_code_type(value)
                if normalized != value:
                    changes[value] = normalized
                if not known:
                    unknown.append(value)
            if unknown:
                flag("unknown_code_type", column.is_in(unknown))
                counts.values(result, t_name, column, column.is_in(unknown))
            if changes:
                types.append(column.replace_strict(list(changes), list(changes.values()), default=column, return_dtype=pl.String).alias(t_name))
            present[-1] = {changes.get(v, v) for v in distinct}
    counts.run(frame)
    type_masks = [m.alias(f"__flag:{k}") for k, m in masks.items()]
    masks = {k: pl.col(f"__flag:{k}") for k in masks}
    if types or type_masks:
        runs = runs.with_columns(types + type_masks)

    # Which codes fail their type's shape? Per slot, only the rules of the types present there.
    dirty_exprs = []
    for slot, slot_types in zip(slots, present):
        code, code_type = pl.col(f"code_{slot}"), pl.col(f"code_type_{slot}")
        fails = ~code.str.contains(_TRIMMED)
        for t in sorted(slot_types, key=str):
            if t in _CLEAN_CODE:
                fails = pl.when(code_type == t).then(~code.str.contains(_CLEAN_CODE[t])).otherwise(fails)
        dirty = code.is_not_null() & fails
        dirty_exprs.append(pl.struct(type=code_type, code=code).filter(dirty).unique().implode().alias(str(slot)))
    dirty_pairs = runs.select(dirty_exprs).row(0)
    code_exprs = []
    for slot, pairs in zip(slots, dirty_pairs):
        code, code_type = pl.col(f"code_{slot}"), pl.col(f"code_type_{slot}")
        fixes: dict[str | None, dict[str, str]] = {}
        nonstandard: dict[str | None, list[str]] = {}
        for pair in pairs:
            t, value = pair["type"], pair["code"]
            normalized, fits = _normalize_code(value, t)
            if normalized != value:
                fixes.setdefault(t, {})[value] = normalized
            if not fits:
                nonstandard.setdefault(t, []).append(value)
        for t, values in nonstandard.items():
            of_type = code_type.is_null() if t is None else (code_type == t)
            flag("nonstandard_code", of_type.fill_null(False) & code.is_in(values))
        if fixes:
            fixed = code
            for t, mapping in fixes.items():
                of_type = code_type.is_null() if t is None else (code_type == t).fill_null(False)
                fixed = pl.when(of_type).then(code.replace_strict(list(mapping), list(mapping.values()), default=code)).otherwise(fixed)
            code_exprs.append(fixed.alias(f"code_{slot}"))
    new_masks = [m.alias(f"__flag:{k}") for k, m in masks.items() if not m.meta.is_column()]
    if code_exprs or new_masks:
        runs = runs.with_columns(code_exprs + new_masks)
    # Primary code: the best-ranked present code; codes without a type (or of a type outside the
    # priority list) rank after every listed type.
    ranks = []
    for slot, slot_types in zip(slots, present):
        rank = pl.lit(_WORST_RANK - 1, dtype=pl.Int32)
        for t in sorted((t for t in slot_types if t in _RANKING), key=_RANKING.get, reverse=True):
            rank = pl.when(pl.col(f"code_type_{slot}") == t).then(pl.lit(_RANKING[t], dtype=pl.Int32)).otherwise(rank)
        ranks.append(pl.when(pl.col(f"code_{slot}").is_null()).then(pl.lit(_WORST_RANK, dtype=pl.Int32)).otherwise(rank))
    best = pl.min_horizontal(ranks)
    per_run = runs.select(
        pl.when(best != _WORST_RANK).then(pl.coalesce([pl.when(r == best).then(pl.col(f"code_{s}")) for r, s in zip(ranks, slots)])).alias("primary_code"),
        pl.when(best != _WORST_RANK).then(pl.coalesce([pl.when(r == best).then(pl.col(f"code_type_{s}")) for r, s in zip(ranks, slots)]))
        .cast(pl.Categorical).alias("primary_code_type"),
        *[pl.col(f"__flag:{k}") for k in masks],
    )
    code_series = [runs[f"code_{s}"] for s in slots]
    type_series = [runs[f"code_type_{s}"] for s in slots]
    if count_codes and runs.height:
        _count_code_types(row_runs, type_series, result)
    per_run = per_run.hstack([_codes_list(code_series, type_series)])
    if row_runs is not None:
        per_run = per_run[row_runs]
    flags = {k: per_run[f"__flag:{k}"] for k in masks}
    return [per_run["codes"], per_run["primary_code"], per_run["primary_code_type"]], flags


def _count_code_types(row_runs: pl.Series | None, type_series: list[pl.Series], result: ParseResult) -> None:
    """Add each run's code types, times its kept rows, to `result.codes_by_type`."""
    types = pl.DataFrame(type_series)
    if row_runs is None:  # one row per run, every row kept
        lengths = pl.repeat(1, types.height, eager=True, dtype=pl.Int64)
    else:  # kept rows by run (in run order)
        runs = row_runs.rle().struct.unnest()
        lengths, types = runs["len"].cast(pl.Int64), types[runs["value"]]
    counted = (
        pl.DataFrame({"t": pl.concat(types.get_columns()), "n": pl.concat([lengths] * types.width)})
        .group_by("t").agg(pl.col("n").sum())
    )
    for value, k in counted.iter_rows():
        if value is not None:
            result.codes_by_type[value] += k


def _codes_list(codes: list[pl.Series], types: list[pl.Series]) -> pl.Series:
    """list<struct<type, code>> from the code slots, skipping empty slots.

    Built as Arrow offsets over the interleaved slot values: polars' own list-of-struct
    construction is an order of magnitude slower at this size.
    """
    n = len(codes[0])
    slots = len(codes)
    present = [c.is_not_null() | t.is_not_null() for c, t in zip(codes, types)]
    per_row = pl.select(pl.sum_horizontal([pl.lit(p).cast(pl.Int32) for p in present])).to_series()
    offsets = pl.concat([pl.Series([0], dtype=pl.Int32), per_row.cum_sum()], rechunk=True)
    # Row-major order: row r, slot s sits at s * n + r in the stacked slots.
    order = pl.int_range(0, n * slots, eager=True, dtype=pl.Int64)
    index = (order % slots) * n + order // slots
    index = index.filter(pl.concat(present).gather(index))
    # Each child is exported on its own (which copies just the values it holds, where a view
    # array may point into the whole batch's text buffers).
    children = [pl.concat([s.cast(pl.String) for s in column]).gather(index).to_arrow() for column in (types, codes)]
    values = pa.StructArray.from_arrays(children, names=["type", "code"])
    return pl.Series("codes", _list_array(offsets, per_row != 0, values), dtype=POLARS_SCHEMA["codes"])


def _list_array(offsets: pl.Series, valid: pl.Series, values: pa.Array) -> pa.Array:
    """A list array from its offsets (Int32, one more than rows) and validity, as buffers: several
    times faster than `pa.ListArray.from_arrays(..., mask=...)`, which checks and copies."""
    offsets = offsets.rechunk().to_arrow()
    validity = None if valid.all() else valid.rechunk().to_arrow().buffers()[1]
    return pa.Array.from_buffers(pa.list_(values.type), len(offsets) - 1, [validity, offsets.buffers()[1]], children=[values])


@dataclass(frozen=True)
class RowConstants:
    """Values that are the same on every row of one file."""

    hospital_key: str
    file_sha256: str
    layout: str
    schema_version: str
    parser_version: str
    hospital_name: str | None
    last_updated_on: object  # datetime.date | None
    cms_version: str
    location_names: list[str]
    license_number: str | None
    license_state: str | None

    @classmethod
    def of(cls, provenance: Provenance, result: ParseResult) -> RowConstants:
        """The file-level values of a file being parsed, from its provenance and what the
        parser has read so far (layout, versions, `result.metadata`)."""
        meta = result.metadata
        return cls(
            hospital_key=provenance.hospital_key,
            file_sha256=provenance.file_sha256,
            layout=result.layout,
            schema_version=result.schema_version,
            parser_version=result.parser_version,
            hospital_name=meta.hospital_name,
            last_updated_on=meta.last_updated_on,
            cms_version=result.cms_version,
            location_names=meta.location_names,
            license_number=meta.license_number,
            license_state=meta.license_state,
        )

    def values(self) -> dict[str, object]:
        return {
            "hospital_key": self.hospital_key,
            "file_sha256": self.file_sha256,
            "layout": self.layout,
            "schema_version": self.schema_version,
            "parser_version": self.parser_version,
            "hospital_name": self.hospital_name,
            "last_updated_on": self.last_updated_on,
            "cms_version": self.cms_version,
            "location_names": self.location_names or None,
            "license_number": self.license_number,
            "license_state": self.license_state,
        }


def _constant(value: object, dtype: pl.DataType) -> pl.Expr:
    # A scalar: broadcast by the query, stored once until written.
    if dtype == pl.Categorical:
        return pl.lit(value, dtype=pl.String).cast(pl.Categorical)
    if isinstance(dtype, pl.List):
        return pl.lit(pl.Series([value], dtype=dtype)).first()
    return pl.lit(value, dtype=dtype)


def flags_column(n: int, flags: dict[str, pl.Series], result: ParseResult) -> pl.Series:
    """list<string> of the flag names per row (sorted), null for rows without flags; counts each
    flag's rows into `result.flags`.

    Flags are rare, so the list is built as Arrow offsets over the flagged rows only.
    """
    names = sorted(flags)
    if not names:
        return pl.Series("flags", [None], dtype=pl.List(pl.String)).new_from_index(0, n)
    masks = pl.DataFrame([flags[f].alias(f) for f in names])
    summary = masks.select(pl.sum_horizontal([pl.col(f).cast(pl.Int32) for f in names]).alias("__n"), *[pl.col(f).sum() for f in names])
    per_row = summary["__n"]
    totals = summary.select(names).row(0)
    for name, total in zip(names, totals):
        if total:
            result.flags[name] += total
    if not any(totals):
        return pl.Series("flags", [None], dtype=pl.List(pl.String)).new_from_index(0, n)
    flagged = masks.filter(per_row > 0)
    values = flagged.select(
        pl.concat_list([pl.when(pl.col(f)).then(pl.lit(f)) for f in names]).list.drop_nulls().explode().alias("v")
    )["v"]
    offsets = pl.concat([pl.Series([0], dtype=pl.Int32), per_row.cum_sum()])
    return pl.Series("flags", _list_array(offsets, per_row > 0, values.to_arrow()), dtype=pl.List(pl.String))


def assemble(
    n: int,
    levels: list[Level],
    constants: RowConstants,
    result: ParseResult,
    *,
    source_row: pl.Series | None = None,
    source_json_path: pl.Series | None = None,
) -> pl.DataFrame:
    """Table rows from levels already gathered to `n` rows, in the schema's column order."""
    columns: dict[str, pl.Series] = {}
    flags: dict[str, pl.Series] = {}
    for level in levels:
        for s in level.frame.get_columns():
            columns[s.name] = s
        for name, mask in level.flags.items():
            add_flag(flags, name, mask)
    if source_row is not None:
        columns["source_row"] = source_row
    if source_json_path is not None:
        columns["source_json_path"] = source_json_path
    columns["flags"] = flags_column(n, flags, result)
    frame = pl.DataFrame([s.alias(k) for k, s in columns.items()], height=n)
    constant_values = constants.values()
    out = []
    for name in COLUMN_NAMES:
        dtype = POLARS_SCHEMA[name]
        if name in columns:
            column = columns[name]
            out.append((pl.col(name) if column.dtype == dtype else pl.col(name).cast(dtype)).alias(name))
        else:
            out.append(_constant(constant_values.get(name), dtype).alias(name))
    return frame.select(out)
