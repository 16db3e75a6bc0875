"""Rows of a CMS CSV/XLSX template → table batches (shared by the CSV and workbook readers).

A reader hands over raw batches: every source column as text (`c0`, `c1`, ...), the source row
number (`_row`) and the columns of `row_expressions` (a hash of the whole row, a blank-row
marker, number casts), which the CSV reader computes inside polars' streaming engine
so that they run on all cores. This module accounts for every row (blank, duplicate, landed),
counts the non-empty cells of columns the table has no place for, normalizes the item columns
and, for wide files, unpivots the payer/plan blocks into one row each.
"""

from __future__ import annotations

from collections.abc import Iterator

import polars as pl

from glimmr_dagster.lib.normalize import normalize_payer_name

from .dedup import SeenRows
from .frames import NUMBER_FIELDS, PRECAST_SUFFIX, Labels, RowConstants, assemble, normalize_level
from .headers import CmsColumns
from .result import EXAMPLES_PER_REASON, ParseResult

HASH_SEED = 0x5EED


def source_column(index: int) -> str:
    return f"c{index}"


class CmsRowProcessor:
    """Turns raw batches of one file into table batches, updating the result as it goes."""

    def __init__(self, columns: CmsColumns, result: ParseResult, constants: RowConstants, width: int) -> None:
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
        self.mapped = [source_column(i) for i in sorted(mapped) if i < width]
        self.unmapped = [c for c in self.cells if c not in set(self.mapped)]
        self.payer_plan_keys: set[tuple[str | None, str | None]] = set()
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
        row_hash = pl.struct(self.cells).hash(HASH_SEED)
        # A row of empty cells hashes like a one-row frame of nulls: no per-cell test needed.
        blank_hash = pl.DataFrame({c: [None] for c in self.cells}, schema={c: pl.String for c in self.cells}).select(
            pl.struct(self.cells).hash(HASH_SEED)
        ).item()
        exprs = [row_hash.alias("_hash"), (row_hash == blank_hash).alias("_blank")]
        if not self.columns.is_wide:
            for name, i in self.columns.item.items():
                if name in NUMBER_FIELDS:
                    column = source_column(i)
                    exprs.append(pl.col(column).cast(pl.Float64, strict=False).alias(column + PRECAST_SUFFIX))
        return exprs

    def _reject(self, reason: str, rows: pl.Series, note: str = "") -> None:
        examples = [f"row {r}{note}" for r in rows.head(EXAMPLES_PER_REASON).to_list()]
        self.result.rejects.add(reason, len(rows), examples)

    def process(self, raw: pl.DataFrame) -> Iterator[pl.DataFrame]:
        result = self.result
        result.rows_read += raw.height
        blank = raw["_blank"]
        if blank.any():
            self._reject("blank_row", raw["_row"].filter(blank))
        first = self.seen.first_occurrences(raw["_hash"])
        duplicate = ~first & ~blank
        if duplicate.any():
            rows = raw["_row"].filter(duplicate)
            self._reject("duplicate_row", rows, " (repeats an earlier row exactly)")
            result.duplicates_dropped += len(rows)
        keep = first & ~blank
        has_data = ~blank
        if self.unmapped:
            # Cells of the rows kept so far, including rows about to be rejected for having
            # values only in such columns.
            counted = raw.filter(keep)
            counts = counted.select([pl.col(c).is_not_null().sum() for c in self.unmapped]).row(0)
            for name, n in zip(self.unmapped, counts):
                if n:
                    index = int(name[1:])
                    label = self.columns.unmapped.get(index) or self.columns.label(index)
                    result.cells_not_carried[label] += n
            if any(counts):
                # Only then can a non-blank row lack every column the table carries.
                has_data = raw.select(
                    pl.any_horizontal([pl.col(c).is_not_null() for c in self.mapped]) if self.mapped else pl.lit(False)
                ).to_series()
                no_data = keep & ~has_data
                if no_data.any():
                    self._reject(
                        "no_cms_columns", raw["_row"].filter(no_data),
                        " (values only in columns the table does not carry)",
                    )
        keep = keep & has_data
        batch = raw if keep.all() else raw.filter(keep)
        if batch.height == 0:
            return
        result.source_rows_landed += batch.height
        yield self._wide(batch) if self.columns.is_wide else self._tall(batch)

    def _item_frame(self, batch: pl.DataFrame) -> pl.DataFrame:
        columns = []
        for name, i in self.columns.item.items():
            column = source_column(i)
            columns.append(pl.col(column).alias(name))
            if column + PRECAST_SUFFIX in batch.columns:
                columns.append(pl.col(column + PRECAST_SUFFIX).alias(name + PRECAST_SUFFIX))
        return batch.select(columns)

    def _tall(self, batch: pl.DataFrame) -> pl.DataFrame:
        level = normalize_level(self._item_frame(batch), self.result, self.labels, count_codes=True)
        table = assemble(batch.height, [level], self.constants, self.result, source_row=batch["_row"])
        self.result.rows_written += table.height
        if "payer_name" in self.columns.item:
            self.payer_plan_keys.update(table.select("payer_name", "plan_name").unique().iter_rows())
        return table

    def _wide(self, batch: pl.DataFrame) -> pl.DataFrame:
        n = batch.height
        blocks = self.columns.blocks
        slots = len(blocks) + 1  # every payer block, then a slot for rows that have none
        item_level = normalize_level(self._item_frame(batch), self.result, self.labels, count_codes=True)
        # Unpivot by stacking: each field's column is its block columns one after another, so
        # row b * n + r of the stack is block b of source row r; the last n rows are the
        # "no payer" slot, kept for rows that have no non-empty block.
        fields = sorted({name for block in blocks for name in block.columns})
        null = pl.repeat(None, n, dtype=pl.String, eager=True)
        cells = dict(zip(batch.columns, batch.get_columns()))
        stacked = pl.DataFrame(
            {
                name: pl.concat(
                    [cells[source_column(block.columns[name])] if name in block.columns else null for block in blocks] + [null]
                )
                for name in fields
            }
        )
        filled = (
            stacked.select(pl.any_horizontal([pl.col(name).is_not_null() for name in fields])).to_series()
            if fields
            else pl.repeat(False, n * slots, eager=True)
        )
        # Filter first (sequential over the stack's chunks), then put the few kept rows in
        # row-major order: a random gather over the whole stack would cost far more.
        position = pl.int_range(0, n * slots, eager=True, dtype=pl.Int64)
        in_blocks = filled.slice(0, n * len(blocks))
        covered = pl.repeat(False, n, eager=True).scatter((position.slice(0, n * len(blocks)).filter(in_blocks) % n).unique(), True)
        filled = pl.concat([in_blocks, ~covered])
        kept_position = position.filter(filled)
        long = stacked.filter(filled)
        key = (kept_position % n) * slots + kept_position // n
        by_row = key.arg_sort()
        long = long[by_row]
        kept_position = kept_position.gather(by_row)
        src = kept_position % n
        block_index = (kept_position // n).cast(pl.UInt32)
        payer_level = normalize_level(long.with_columns(_block=block_index), self.result, self.labels)
        payer_level.frame = payer_level.frame.hstack(self.block_names[block_index].get_columns())
        table = assemble(
            long.height,
            [item_level.gather(src), payer_level],
            self.constants,
            self.result,
            source_row=batch["_row"].gather(src),
        )
        self.result.rows_written += table.height
        return table


def finish_payer_plans(processor: CmsRowProcessor) -> None:
    result = processor.result
    if processor.columns.is_wide:
        result.payer_plans = len(processor.columns.blocks)
    else:
        result.payer_plans = len({k for k in processor.payer_plan_keys if k != (None, None)})
