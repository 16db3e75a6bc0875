"""Vectorized normalization of parsed batches into the standard-charges table.

Every format reader turns its source into polars batches of *canonical fields* (the table's column
names, still as published: strings from CSV/XLSX, numbers and strings from JSON), one frame per
level of the source (item, setting, payer). `normalize_level` normalizes one such frame and
`assemble` gathers the levels into table rows.

Speed matters here (a tall CSV of a gigabyte is millions of rows), so each rule takes a cheap
vectorized path for values that are already clean, and only the distinct values that are not go
through the scalar functions of `glimmr_dagster.lib.normalize`. Those functions stay the single
definition of every rule; the fast checks only recognize values they would return unchanged.
The checks of all columns run in one polars `select`, so they share the machine's cores.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl
import pyarrow as pa

from glimmr_dagster.lib import normalize as nz

from .result import ParseResult
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
        return Level(
            self.frame[index] if self.frame.width else self.frame,
            {name: mask.gather(index) for name, mask in self.flags.items()},
        )


class _Context:
    def __init__(self, raw: pl.DataFrame, result: ParseResult, labels: Labels) -> None:
        self.raw = raw
        self.result = result
        self.labels = labels
        self.flags: dict[str, pl.Series] = {}
        self.blocks = raw["_block"] if "_block" in raw.columns else None

    def count(self, counter, name: str, mask: pl.Series) -> None:
        """Add the True rows of `mask` to `counter` under the source column label."""
        mask = mask.fill_null(False)
        if self.blocks is None:
            total = int(mask.sum())
            if total:
                counter[self.labels.label(name)] += total
            return
        for block, n in self.blocks.filter(mask).value_counts().iter_rows():
            counter[self.labels.label(name, block)] += n

    def flag(self, name: str, mask: pl.Series) -> None:
        add_flag(self.flags, name, mask)


def add_flag(flags: dict[str, pl.Series], name: str, mask: pl.Series) -> None:
    mask = mask.fill_null(False)
    flags[name] = flags[name] | mask if name in flags else mask


def _repair_numbers(ctx: _Context, name: str, raw: pl.Series, values: pl.Series, bad: pl.Series) -> pl.Series:
    """Slow path for the few cells the plain cast could not read: "$1,234.50", "N/A", text."""
    distinct = raw.filter(bad).unique().to_list()
    allow_percent = name == "negotiated_percentage"
    parsed = {text: nz.parse_number(text, allow_percent=allow_percent) for text in distinct}
    good = {t: p.value for t, p in parsed.items() if p.value is not None}
    if good:
        repaired = raw.replace_strict(list(good), list(good.values()), default=None, return_dtype=pl.Float64)
        values = pl.select(pl.when(pl.lit(bad)).then(pl.lit(repaired)).otherwise(pl.lit(values))).to_series()
    else:
        values = values.set(bad, None)
    missing = [t for t, p in parsed.items() if p.status is nz.NumberStatus.MISSING]
    unparsable = [t for t, p in parsed.items() if p.status is nz.NumberStatus.UNPARSABLE]
    if missing:
        ctx.count(ctx.result.missing_markers, name, raw.is_in(missing))
    if unparsable:
        mask = raw.is_in(unparsable)
        ctx.count(ctx.result.cells_not_carried, name, mask)
        ctx.flag(f"not_a_number:{name}", mask)
    return values


def _flag_placeholders(ctx: _Context, name: str, raw: pl.Series, values: pl.Series) -> None:
    big = (values >= PLACEHOLDER_FLOOR).fill_null(False)
    hits = [v for v in raw.filter(big).unique().to_list() if nz.is_placeholder_amount(v)]
    if hits:
        mask = raw.is_in(hits)
        ctx.count(ctx.result.placeholders, name, mask)
        ctx.flag(f"placeholder:{name}", mask)


PRECAST_SUFFIX = "__f64"  # a reader may hand over `<field>__f64`, the field already cast


def _numbers(ctx: _Context, names: list[str]) -> list[pl.Series]:
    raw = ctx.raw
    values = raw.select(
        [
            pl.col(name + PRECAST_SUFFIX).alias(name)
            if name + PRECAST_SUFFIX in raw.columns
            else pl.col(name).cast(pl.Float64, strict=False).alias(name)
            for name in names
        ]
    )
    # One pass over all number columns: which need the slow path or hold large amounts?
    checks = []
    for name in names:
        v = pl.lit(values[name])
        checks.append((pl.lit(raw[name]).is_not_null() & ~v.is_finite().fill_null(False)).any().alias(f"bad:{name}"))
        checks.append((v >= PLACEHOLDER_FLOOR).any().alias(f"big:{name}"))
    summary = pl.select(checks).row(0, named=True) if checks else {}
    out = []
    for name in names:
        v = values[name]
        raw_column = raw[name]
        if summary[f"bad:{name}"]:
            if raw_column.dtype.is_numeric():
                v = v.set(~v.is_finite().fill_null(True), None)
            else:
                bad = raw_column.is_not_null() & ~v.is_finite().fill_null(False)
                v = _repair_numbers(ctx, name, raw_column, v, bad)
        if summary[f"big:{name}"] or (summary[f"bad:{name}"] and (v >= PLACEHOLDER_FLOOR).any()):
            _flag_placeholders(ctx, name, raw_column, v)
        out.append(v.alias(name))
    return out


def _distinct_values(raw: pl.DataFrame, names: list[str]) -> dict[str, list]:
    """The distinct non-null values of several columns, computed together."""
    if not names:
        return {}
    row = raw.select([pl.col(n).cast(pl.String).drop_nulls().unique().implode().alias(n) for n in names]).row(0)
    return dict(zip(names, row))


def _names(raw: pl.Series, distinct: list[str]) -> pl.Series:
    raw = raw.cast(pl.String)
    changes = {v: v.strip() or None for v in distinct if v != v.strip()}
    if not changes:
        return raw
    return raw.replace_strict(list(changes), list(changes.values()), default=raw)


def _enum(ctx: _Context, name: str, distinct: list[str]) -> pl.Series:
    normalizer, flag = ENUM_FIELDS[name]
    raw = ctx.raw[name]
    if raw.dtype.is_numeric():  # JSON counts published as numbers
        raw = raw.map_elements(lambda v: nz.normalize_count(v)[0], return_dtype=pl.String)
        distinct = raw.drop_nulls().unique().to_list()
    raw = raw.cast(pl.String)
    changes: dict[str, str | None] = {}
    unknown: list[str] = []
    for value in distinct:
        normalized, known = normalizer(value)
        if normalized != value:
            changes[value] = normalized
        if not known:
            unknown.append(value)
    out = raw.replace_strict(list(changes), list(changes.values()), default=raw) if changes else raw
    if unknown:
        mask = raw.is_in(unknown)
        ctx.flag(flag, mask)
        for value, n in raw.filter(mask).value_counts().iter_rows():
            ctx.result.add_unknown_value(ctx.labels.label(name), value, n)
    return out.alias(name)


def _modifiers(raw: pl.Series) -> pl.Series:
    if raw.dtype == pl.List(pl.String):
        lists = raw
    else:
        raw = raw.cast(pl.String)
        if raw.null_count() == len(raw):
            return pl.Series("modifiers", [None] * len(raw), dtype=pl.List(pl.String))
        lists = raw.str.split("|")
    cleaned = lists.list.eval(pl.element().str.strip_chars().filter(pl.element().str.len_bytes() > 0))
    return cleaned.set(cleaned.list.len() == 0, None).alias("modifiers")


def code_slots(columns: list[str]) -> list[int]:
    slots = set()
    for name in columns:
        if name.startswith("code_type_"):
            slots.add(int(name.rsplit("_", 1)[1]))
        elif name.startswith("code_") and name[5:].isdigit():
            slots.add(int(name[5:]))
    return sorted(slots)


def _code_types(ctx: _Context, raw: pl.Series, distinct: list[str]) -> tuple[pl.Series, list[str]]:
    """CMS code types for one slot, and the published types that are not CMS types."""
    if all(v in _CMS_TYPES for v in distinct):
        return raw, []
    changes, unknown = {}, []
    for value in distinct:
        normalized, known = nz.normalize_code_type(value)
        if normalized != value:
            changes[value] = normalized
        if not known:
            unknown.append(value)
    out = raw.replace_strict(list(changes), list(changes.values()), default=raw) if changes else raw
    if unknown:
        ctx.flag("unknown_code_type", raw.is_in(unknown))
    return out, unknown


def _codes(ctx: _Context, code: pl.Series, types: pl.Series, pairs: pl.DataFrame) -> pl.Series:
    """Normalized codes of one code slot.

    `pairs` holds the slot's distinct (type, code) pairs; only pairs whose code fails its type's
    shape check go through `normalize.normalize_code`.
    """
    dirty: list[tuple[str | None, str]] = []
    # Group by shape rule, not by type: a column of junk "types" must not mean a query per value.
    shaped = pairs.with_columns(
        rule=pl.col("type").replace_strict(list(_CLEAN_CODE), list(_CLEAN_CODE), default="", return_dtype=pl.String)
    )
    for (rule,), group in shaped.group_by(["rule"]):
        codes = group["code"]
        unclean = group.filter(~codes.str.contains(_CLEAN_CODE.get(rule, _TRIMMED)))
        dirty.extend(unclean.select("type", "code").iter_rows())
    if not dirty:
        return code
    fixes: dict[str | None, dict[str, str]] = {}
    nonstandard: dict[str | None, list[str]] = {}
    for code_type, value in dirty:
        normalized, fits = nz.normalize_code(value, code_type)
        if normalized != value:
            fixes.setdefault(code_type, {})[value] = normalized
        if not fits:
            nonstandard.setdefault(code_type, []).append(value)
    for code_type, values in nonstandard.items():
        of_type = types.is_null() if code_type is None else (types == code_type)
        ctx.flag("nonstandard_code", of_type.fill_null(False) & code.is_in(values))
    normalized = code
    for code_type, mapping in fixes.items():
        of_type = types.is_null() if code_type is None else (types == code_type).fill_null(False)
        replaced = code.replace_strict(list(mapping), list(mapping.values()), default=code)
        normalized = pl.select(pl.when(pl.lit(of_type)).then(pl.lit(replaced)).otherwise(pl.lit(normalized))).to_series()
    return normalized.alias(code.name)


def _primary_code(codes: list[pl.Series], types: list[pl.Series]) -> tuple[pl.Series, pl.Series]:
    worst = len(nz.PRIMARY_CODE_PRIORITY) + 1
    ranking = {t: nz.primary_code_rank(t) for t in nz.PRIMARY_CODE_PRIORITY}
    ranks = {}
    for i, (code, code_type) in enumerate(zip(codes, types)):
        rank = code_type.replace_strict(list(ranking), list(ranking.values()), default=worst - 1, return_dtype=pl.Int32)
        ranks[f"r{i}"] = rank.set(code.is_null(), worst)
    frame = pl.DataFrame(ranks)
    best = frame.select(pl.min_horizontal(pl.all())).to_series()
    picked = frame.select(
        pl.coalesce([pl.when(pl.col(f"r{i}") == best).then(pl.lit(c)) for i, c in enumerate(codes)]).alias("primary_code"),
        pl.coalesce([pl.when(pl.col(f"r{i}") == best).then(pl.lit(t)) for i, t in enumerate(types)]).alias("primary_code_type"),
    )
    none = best == worst
    return picked["primary_code"].set(none, None), picked["primary_code_type"].set(none, None)


def _codes_list(codes: list[pl.Series], types: list[pl.Series]) -> pl.Series:
    """list<struct<type, code>> from the code slots, skipping empty slots.

    Built as Arrow offsets over the interleaved slot values: polars' own list-of-struct
    construction is an order of magnitude slower at this size.
    """
    n = len(codes[0])
    slots = len(codes)
    present = [c.is_not_null() | t.is_not_null() for c, t in zip(codes, types)]
    per_row = pl.select(pl.sum_horizontal([pl.lit(p).cast(pl.Int32) for p in present])).to_series()
    offsets = pl.concat([pl.Series([0], dtype=pl.Int32), per_row.cum_sum()])
    stacked = pl.concat(
        [pl.DataFrame({"type": t.cast(pl.String), "code": c.cast(pl.String)}) for c, t in zip(codes, types)]
    )
    # Row-major order: row r, slot s sits at s * n + r in the stacked frame.
    order = pl.int_range(0, n * slots, eager=True, dtype=pl.Int64)
    index = (order % slots) * n + order // slots
    index = index.filter(pl.concat(present).gather(index))
    values = stacked[index].to_struct("codes").to_arrow(compat_level=pl.CompatLevel.newest())
    array = pa.ListArray.from_arrays(offsets.to_arrow(), values, mask=(per_row == 0).to_arrow())
    return pl.Series("codes", array, dtype=POLARS_SCHEMA["codes"])


def normalize_level(raw: pl.DataFrame, result: ParseResult, labels: Labels, *, count_codes: bool = False) -> Level:
    """Normalize the canonical fields present in `raw` into table columns.

    A `_block` column (wide CSV) attributes per-column counts to the payer block's source column.
    Code slots arrive as `code_<n>` / `code_type_<n>` and leave as `codes`, `primary_code` and
    `primary_code_type`. With `count_codes`, the level's code types are added to
    `result.codes_by_type` (call it on the level that has one row per source item).
    """
    ctx = _Context(raw, result, labels)
    columns = raw.columns
    out: list[pl.Series] = []
    out += _numbers(ctx, [c for c in columns if c in NUMBER_FIELDS])
    out += [raw[c].cast(pl.String) for c in columns if c in TEXT_FIELDS]
    slots = code_slots(columns)
    distinct = _distinct_values(
        raw,
        [c for c in columns if c in NAME_FIELDS or c in ENUM_FIELDS]
        + [f"code_type_{s}" for s in slots if f"code_type_{s}" in columns],
    )
    for name in columns:
        if name in NAME_FIELDS:
            out.append(_names(raw[name], distinct[name]).alias(name))
        elif name in ENUM_FIELDS:
            out.append(_enum(ctx, name, distinct[name]))
        elif name == "modifiers":
            out.append(_modifiers(raw[name]))
    if slots:
        out += _normalize_codes(ctx, slots, distinct, count_codes)
    if "payer_name" in columns:
        names = next(s for s in out if s.name == "payer_name")
        payers = [v.strip() for v in distinct["payer_name"] if v.strip()]
        result.payers.update(payers)
        mapping = {v: nz.normalize_payer_name(v) for v in payers}
        out.append(
            names.replace_strict(list(mapping), list(mapping.values()), default=None, return_dtype=pl.String)
            .alias("payer_name_normalized")
        )
    # Dictionary-encoded columns take their final type here, at the level's own grain: gathering
    # an item's values onto its many payer rows then copies small indices, not strings.
    out = [s.cast(POLARS_SCHEMA[s.name]) if POLARS_SCHEMA.get(s.name) == pl.Categorical else s for s in out]
    return Level(pl.DataFrame(out) if out else pl.DataFrame(), ctx.flags)


def _normalize_codes(ctx: _Context, slots: list[int], distinct: dict[str, list], count_codes: bool) -> list[pl.Series]:
    raw = ctx.raw
    n = raw.height
    null = pl.repeat(None, n, dtype=pl.String, eager=True)
    slot_columns = []
    for slot in slots:
        t_name, c_name = f"code_type_{slot}", f"code_{slot}"
        slot_columns.append((raw[c_name].cast(pl.String) if c_name in raw.columns else null).alias(c_name))
        slot_columns.append((raw[t_name].cast(pl.String) if t_name in raw.columns else null).alias(t_name))
    frame = pl.DataFrame(slot_columns)
    # Rows of one item sit together in tall files and repeat its codes: normalize each run of
    # identical codes once and give every row its run's result.
    starts = frame.select(
        pl.any_horizontal([pl.col(c).ne_missing(pl.col(c).shift(1)) for c in frame.columns]).fill_null(True)
    ).to_series()
    run = starts.cast(pl.Int32).cum_sum() - 1
    runs = frame.filter(starts)
    run_lengths = run.value_counts(sort=False).sort(run.name)["count"] if count_codes else None
    sub = _Context(runs, ctx.result, ctx.labels)
    codes, types = [], []
    for slot in slots:
        t, unknown = _code_types(sub, runs[f"code_type_{slot}"], distinct.get(f"code_type_{slot}", []))
        codes.append(runs[f"code_{slot}"])
        types.append(t)
        if unknown:
            published = frame[f"code_type_{slot}"]
            for value, k in published.filter(published.is_in(unknown)).value_counts().iter_rows():
                ctx.result.add_unknown_value(ctx.labels.label(f"code_type_{slot}"), value, k)
    pair_frames = pl.collect_all(
        [
            pl.LazyFrame({"type": t, "code": c}).filter(pl.col("code").is_not_null()).unique()
            for c, t in zip(codes, types)
        ]
    )
    for i, pairs in enumerate(pair_frames):
        codes[i] = _codes(sub, codes[i], types[i], pairs)
    if count_codes:
        for t in types:
            counted = pl.DataFrame({"t": t, "n": run_lengths}).drop_nulls("t").group_by("t").agg(pl.col("n").sum())
            for value, k in counted.iter_rows():
                ctx.result.codes_by_type[value] += k
    primary, primary_type = _primary_code(codes, types)
    for name, mask in sub.flags.items():
        ctx.flag(name, mask.gather(run))
    return [
        _codes_list(codes, types).gather(run),
        primary.gather(run).alias("primary_code"),
        primary_type.gather(run).alias("primary_code_type"),
    ]


def flags_column(n: int, flags: dict[str, pl.Series], result: ParseResult) -> pl.Series:
    """list<string> of the flag names per row, null for rows without flags."""
    names = sorted(name for name, mask in flags.items() if mask.any())
    if not names:
        return pl.Series("flags", [None] * n, dtype=pl.List(pl.String))
    parts = []
    for order, name in enumerate(names):
        rows = flags[name].arg_true()
        result.flags[name] += len(rows)
        parts.append(pl.DataFrame({"row": rows, "order": pl.repeat(order, len(rows), eager=True, dtype=pl.UInt32)}))
    long = pl.concat(parts).sort(["row", "order"])
    counts = long.group_by("row").len()
    per_row = pl.repeat(0, n, eager=True, dtype=pl.Int32).scatter(counts["row"], counts["len"].cast(pl.Int32))
    offsets = pl.concat([pl.Series([0], dtype=pl.Int32), per_row.cum_sum()])
    values = pa.array(names, type=pa.string()).take(long["order"].to_arrow())
    array = pa.ListArray.from_arrays(offsets.to_arrow(), values, mask=(per_row == 0).to_arrow())
    return pl.Series("flags", array, dtype=pl.List(pl.String))


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


def _constant(value: object, n: int, dtype: pl.DataType) -> pl.Series:
    # One value repeated: for dictionary columns only the index is repeated, no string hashing.
    return pl.Series([value], dtype=dtype if dtype != pl.Categorical else pl.String).cast(dtype).new_from_index(0, n)


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
    constant_values = constants.values()
    out = []
    for name in COLUMN_NAMES:
        dtype = POLARS_SCHEMA[name]
        if name in columns:
            column = columns[name]
            out.append((column if column.dtype == dtype else column.cast(dtype)).alias(name))
        else:
            out.append(_constant(constant_values.get(name), n, dtype).alias(name))
    return pl.DataFrame(out)
