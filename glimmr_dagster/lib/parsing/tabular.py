"""Rows of a CMS CSV/XLSX template → table batches (shared by the CSV and workbook readers).

A reader hands over raw batches: every source column (`c0`, `c1`, ...) as text, or as floats for
a tall file's number columns that hold only plain numbers (rows then compare by value there:
"100" and "100.00" are the same), the source row number (`_row`) and the columns of
`row_expressions`, which the CSV reader computes inside polars' streaming engine so that they
run on all cores, in step with parsing: a hash of the row (of its non-payer cells, for wide
files), a blank-row marker, a hash of the code slots, the number columns read as text cast to
floats, and the low-cardinality columns (payer, plan, setting, ...) as categories. This module accounts for every row (blank, duplicate, landed), counts the non-empty
cells of columns the table has no place for, normalizes the item columns and, for wide files,
unpivots the payer/plan blocks into one row each.

The work per batch is a handful of whole-batch polars queries, whatever the file's width: each
query costs a fixed overhead (and, while the reader and the writer keep polars' threads busy, a
wait for a free one), so their number matters as much as what they do.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl

from glimmr_dagster.lib.normalize import normalize_payer_name

from .dedup import HASH_SEED, SeenRows
from .frames import CODES_KEY, ENUM_FIELDS, NAME_FIELDS, NUMBER_FIELDS, PRECAST_SUFFIX, Labels, RowConstants, assemble, normalize_level
from .headers import CmsColumns, cms_version
from .result import EXAMPLES_PER_REASON, FileMetadata, ParseResult
from .schema import SCHEMA_VERSION

# Table rows a wide file's held-back raw batches add up to before they are normalized together.
WIDE_ROWS_PER_TABLE = 100_000


def template_result(
    source_path: Path, kind: str, columns: CmsColumns, metadata: FileMetadata, v3: bool, header_index: int, *,
    encoding: str, parser_version: str, **details: Any,
) -> ParseResult:
    """The result of a CMS template file of `kind` ("csv", "xlsx", "xls") before its rows are read:
    format and layout, versions, and the warnings its header rows give. `details`: other
    ParseResult fields (the sheet, the transcoded bytes)."""
    result = ParseResult(
        source_path=str(source_path),
        format=kind,
        layout=f"{kind}-{'wide' if columns.is_wide else 'tall'}",
        cms_version=cms_version(metadata.version, v3),
        encoding=encoding,
        parser_version=parser_version,
        schema_version=SCHEMA_VERSION,
        metadata=metadata,
        **details,
    )
    if header_index < 2:
        result.warnings.append(
            f"rows 1-2 (general data) are missing: the item header is row {header_index + 1}; "
            "file-level columns are empty"
        )
    result.warnings.extend(columns.warnings)
    return result


def source_column(index: int) -> str:
    return f"c{index}"


def cells_hash(names: list[str]) -> pl.Expr:
    """A 64-bit hash of a row's cells `names`: each column hashed with a seed of its own, the
    hashes summed (wrapping). Half the CPU of hashing the cells as one struct, and as good at
    telling rows apart: a value moved to another column hashes differently."""
    if not names:
        return pl.lit(0, dtype=pl.UInt64)
    return pl.sum_horizontal([pl.col(name).hash(HASH_SEED + i) for i, name in enumerate(names)])


class CmsRowProcessor:
    """Turns raw batches of one file into table batches, updating the result as it goes."""

    def __init__(
        self, columns: CmsColumns, result: ParseResult, constants: RowConstants, width: int,
        schema: dict[str, pl.DataType] | None = None,
    ) -> None:
        """`schema`: the raw batches' column types, when a reader parses some columns as numbers
        (text otherwise)."""
        self.columns = columns
        self.result = result
        self.constants = constants
        self.width = width
        self.seen = SeenRows()
        self.labels = Labels(by_field={name: columns.label(i) for name, i in columns.item.items()})
        for b, block in enumerate(columns.blocks):
            for name, i in block.columns.items():
                self.labels.by_block[(name, b)] = columns.label(i)
        mapped = set(columns.item.values()) | {i for block in columns.blocks for i in block.columns.values()}
        self.cells = [source_column(i) for i in range(width)]
        self.schema = schema or {c: pl.String for c in self.cells}
        self.mapped = [source_column(i) for i in sorted(mapped) if i < width]
        self.unmapped = [c for c in self.cells if c not in set(self.mapped)]
        self.payer_plan_keys: set[tuple[str | None, str | None]] = set()
        self._pending_items: list[pl.DataFrame] = []
        self._pending_long: list[pl.DataFrame] = []
        self._pending_rows = 0
        # A row of empty cells hashes like a one-row frame of nulls: no per-cell test needed.
        block_cells = {source_column(i) for block in columns.blocks for i in block.columns.values()}
        self.item_cells = [c for c in self.cells if c not in block_cells]
        hashed = self.item_cells if columns.is_wide else self.cells
        self.blank_hash = pl.DataFrame({c: [None] for c in hashed}, schema={c: self.schema[c] for c in hashed}).select(
            cells_hash(hashed)
        ).item()
        if columns.is_wide:
            # Payer and plan of each block (and a last, empty entry for rows without any), made
            # once from the header: rows get them by index, no per-row string work.
            payers = [block.payer for block in columns.blocks] + [None]
            self.block_names = pl.DataFrame(
                {
                    "payer_name": pl.Series(payers, dtype=pl.String).cast(pl.Categorical),
                    "plan_name": pl.Series([block.plan for block in columns.blocks] + [None], dtype=pl.String).cast(pl.Categorical),
                    "payer_name_normalized": pl.Series([normalize_payer_name(p) for p in payers], dtype=pl.String).cast(pl.Categorical),
                }
            )
            result.payers.update(block.payer for block in columns.blocks)

    def row_expressions(self) -> list[pl.Expr]:
        """Per-row columns a reader adds to each raw batch (cheap, elementwise)."""
        if self.columns.is_wide:
            # A wide row's hash is finished in `_wide_rows`, from its non-empty payer blocks:
            # here only the other cells are hashed, and which blocks have a value is noted.
            exprs = [cells_hash(self.item_cells).alias("_item_hash")]
            exprs += [
                pl.any_horizontal([pl.col(source_column(i)).is_not_null() for i in block.columns.values() if i < self.width])
                .alias(f"_filled{b}")
                for b, block in enumerate(self.columns.blocks)
            ]
        else:
            row_hash = cells_hash(self.cells)
            exprs = [row_hash.alias("_hash"), (row_hash == self.blank_hash).alias("_blank")]
        code_columns = [source_column(i) for name, i in self.columns.item.items() if name.startswith("code_") and i < self.width]
        if code_columns:
            exprs.append(cells_hash(code_columns).alias(CODES_KEY))
        for name, i in self.columns.item.items():
            column = source_column(i)
            if i >= self.width:
                continue
            if name in NUMBER_FIELDS:
                if self.schema[column] == pl.String:
                    exprs.append(pl.col(column).cast(pl.Float64, strict=False).alias(column + PRECAST_SUFFIX))
            elif name in NAME_FIELDS or name in ENUM_FIELDS:
                # Few distinct values: as categories, later steps work on the distinct values.
                exprs.append(pl.col(column).cast(pl.Categorical))
        return exprs

    def _reject(self, reason: str, count: int, rows: list[int], note: str = "") -> None:
        self.result.rejects.add(reason, count, [f"row {r}{note}" for r in rows])

    def process(self, raw: pl.DataFrame) -> Iterator[pl.DataFrame]:
        result = self.result
        result.rows_read += raw.height
        long = None
        if self.columns.is_wide:
            raw, long = self._wide_rows(raw)
        raw = raw.hstack([self.seen.first_occurrences(raw["_hash"]).alias("_first")])
        blank = pl.col("_blank")
        duplicate = ~pl.col("_first") & ~blank
        keep = pl.col("_first") & ~blank
        # One query: the rows to reject and, for the rows kept, the non-empty cells of columns the
        # table has no place for (including rows about to be rejected for having values only there).
        summary = raw.select(
            blank.sum().alias("blank"),
            duplicate.sum().alias("duplicate"),
            pl.col("_row").filter(blank).head(EXAMPLES_PER_REASON).implode().alias("blank_rows"),
            pl.col("_row").filter(duplicate).head(EXAMPLES_PER_REASON).implode().alias("duplicate_rows"),
            *[(pl.col(c).is_not_null() & keep).sum().alias(c) for c in self.unmapped],
        ).row(0, named=True)
        if summary["blank"]:
            self._reject("blank_row", summary["blank"], summary["blank_rows"])
        if summary["duplicate"]:
            self._reject("duplicate_row", summary["duplicate"], summary["duplicate_rows"], " (repeats an earlier row exactly)")
            result.duplicates_dropped += summary["duplicate"]
        counts = [summary[c] for c in self.unmapped]
        for name, n in zip(self.unmapped, counts):
            if n:
                index = int(name[1:])
                label = self.columns.unmapped.get(index) or self.columns.label(index)
                result.cells_not_carried[label] += n
        if any(counts):
            # Only then can a non-blank row lack every column the table carries.
            has_data = pl.any_horizontal([pl.col(c).is_not_null() for c in self.mapped]) if self.mapped else pl.lit(False)
            no_data = raw.select(
                (keep & ~has_data).sum().alias("n"),
                pl.col("_row").filter(keep & ~has_data).head(EXAMPLES_PER_REASON).implode().alias("rows"),
            ).row(0, named=True)
            if no_data["n"]:
                self._reject("no_cms_columns", no_data["n"], no_data["rows"], " (values only in columns the table does not carry)")
            keep = keep & has_data
        rejected = summary["blank"] + summary["duplicate"] + (no_data["n"] if any(counts) else 0)
        landed = raw.height - rejected
        if landed == 0:
            return
        result.source_rows_landed += landed
        if not rejected:
            kept = None
        elif any(counts):
            kept = raw.select(keep).to_series()
        else:  # as Series operations: no query to schedule while reader and writer keep polars' threads busy
            kept = raw["_first"] & ~raw["_blank"]
        if self.columns.is_wide:
            self._add_wide(raw, long, kept)
            if self._pending_rows >= WIDE_ROWS_PER_TABLE:
                yield self._wide()
        else:
            yield self._tall(raw, kept)

    def finish(self) -> Iterator[pl.DataFrame]:
        """The rows still held back (wide files gather several raw batches per table batch)."""
        if self._pending_rows:
            yield self._wide()

    def _item_frame(self, batch: pl.DataFrame) -> pl.DataFrame:
        present = set(batch.columns)
        columns = [batch.get_column(CODES_KEY)] if CODES_KEY in present else []
        for name, i in self.columns.item.items():
            column = source_column(i)
            columns.append(batch.get_column(column).alias(name))
            if column + PRECAST_SUFFIX in present:
                columns.append(batch.get_column(column + PRECAST_SUFFIX).alias(name + PRECAST_SUFFIX))
        return pl.DataFrame(columns, height=batch.height)

    def _tall(self, batch: pl.DataFrame, keep: pl.Series | None) -> pl.DataFrame:
        level = normalize_level(self._item_frame(batch), self.result, self.labels, count_codes=True, keep=keep)
        rows = batch["_row"] if keep is None else batch["_row"].filter(keep)
        table = assemble(rows.len(), [level], self.constants, self.result, source_row=rows)
        self.result.rows_written += table.height
        if "payer_name" in self.columns.item:
            self.payer_plan_keys.update(distinct_pairs(table, "payer_name", "plan_name"))
        return table

    def _wide_rows(self, raw: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        """The batch unpivoted: one row per source row and non-empty payer block (in source order,
        blocks in header order), or one row for a source row without any (block = len(blocks)).
        Also completes each source row's hash: its other cells' hash plus its blocks' hashes."""
        blocks = self.columns.blocks
        fields = sorted({name for block in blocks for name in block.columns})
        n = raw.height
        null = _repeat(None, n, pl.String)
        # The blocks stacked field by field (each block a chunk: nothing is copied), plus a last
        # "block" of empty cells for the rows without any. One filter then keeps the non-empty
        # blocks (copying only their cells), and a sort puts them in source-row order.
        filled = [raw.get_column(f"_filled{b}") for b in range(len(blocks))]
        alone = pl.DataFrame(filled, height=n).select(~pl.any_horizontal(pl.all())).to_series() if blocks else _repeat(True, n, pl.Boolean)
        keep = pl.concat([*filled, alone], rechunk=False)
        stacked = pl.DataFrame(
            [
                pl.concat(
                    [raw.get_column(source_column(block.columns[name])) if name in block.columns else null for block in blocks] + [null],
                    rechunk=False,
                ).alias(name)
                for name in fields
            ],
            height=n * (len(blocks) + 1),
        )
        position = pl.int_range(0, n * (len(blocks) + 1), eager=True, dtype=pl.UInt32).filter(keep)
        long = stacked.filter(keep).hstack([(position % n).alias("_src"), (position // n).alias("_block")])
        long = long[(long["_src"] * (len(blocks) + 1) + long["_block"]).arg_sort()]
        block_hash = pl.when(pl.col("_block") < len(blocks)).then(pl.struct("_block", *fields).hash(HASH_SEED)).otherwise(0)
        sums = long.group_by("_src", maintain_order=True).agg(block_hash.sum().alias("_hash"))
        # Every source row has at least one long row, so the sums line up with the batch. The
        # sum wraps around (u64), and block hashes include the block, so it identifies the row.
        row_hash = raw["_item_hash"] + sums["_hash"].cast(pl.UInt64)
        raw = raw.hstack([row_hash.alias("_hash"), (row_hash == self.blank_hash).alias("_blank")])
        return raw, long

    def _add_wide(self, batch: pl.DataFrame, long: pl.DataFrame, keep: pl.Series | None) -> None:
        """Hold the kept rows of a raw batch (its item columns, and its payer rows pointing at
        them) until enough are gathered: normalizing a few large batches costs less than many
        small ones, and a wide file's raw batches are small (its rows are thousands of cells)."""
        items = self._item_frame(batch).hstack([batch.get_column("_row")])
        if keep is not None:
            items = items.filter(keep)
            long = long.filter(keep.gather(long["_src"]))
            # Position of each kept source row among the kept rows.
            position = (keep.cast(pl.UInt32).cum_sum() - 1).gather(long["_src"])
        else:
            position = long["_src"]
        offset = sum(frame.height for frame in self._pending_items)
        self._pending_items.append(items)
        self._pending_long.append(long.with_columns((position + offset).alias("_src")))
        self._pending_rows += long.height

    def _wide(self) -> pl.DataFrame:
        items = pl.concat(self._pending_items)
        long = pl.concat(self._pending_long)
        self._pending_items, self._pending_long, self._pending_rows = [], [], 0
        item_level = normalize_level(items.drop("_row"), self.result, self.labels, count_codes=True)
        payer_level = normalize_level(long.drop("_src"), self.result, self.labels)
        payer_level.frame = payer_level.frame.hstack(self.block_names[long["_block"]].get_columns())
        table = assemble(
            long.height,
            [item_level.gather(long["_src"]), payer_level],
            self.constants,
            self.result,
            source_row=items["_row"].gather(long["_src"]),
        )
        self.result.rows_written += table.height
        return table


def _repeat(value: object, n: int, dtype: pl.DataType) -> pl.Series:
    return pl.Series([value], dtype=dtype).new_from_index(0, n)


def distinct_pairs(table: pl.DataFrame, first: str, second: str) -> list[tuple]:
    """The distinct (first, second) value pairs of two categorical columns, compared by their
    category ids (cheap integers) rather than by text."""
    ids = [pl.col(c).to_physical().cast(pl.UInt64).fill_null(0xFFFFFFFF) for c in (first, second)]
    key = ids[0] * (1 << 32) + ids[1]
    return table.select(first, second).filter(key.is_first_distinct()).rows()


def finish_payer_plans(processor: CmsRowProcessor) -> None:
    result = processor.result
    if processor.columns.is_wide:
        result.payer_plans = len(processor.columns.blocks)
    else:
        result.payer_plans = len({k for k in processor.payer_plan_keys if k != (None, None)})
