"""Exact-duplicate detection over a whole file with memory for hashes only.

Each source row is reduced to a 64-bit hash. The hashes seen so far live in a few sorted runs that
are merged as they grow (the way a log-structured index keeps its levels). A batch is checked by
sorting its hashes and merging them against each run (an as-of join on sorted keys, linear and
cache-friendly), so memory is 8 bytes per distinct row (about 150 MB for 19 million rows) and the
time is a few milliseconds per batch. Two different rows share a 64-bit hash with probability
about n²/2⁶⁵ (3 in a million for 10 million rows), a risk accepted in exchange for not holding the
file.
"""

from __future__ import annotations

import polars as pl


class SeenRows:
    def __init__(self) -> None:
        self._runs: list[pl.DataFrame] = []  # each one column "h", sorted, distinct

    @property
    def size(self) -> int:
        return sum(run.height for run in self._runs)

    def first_occurrences(self, hashes: pl.Series) -> pl.Series:
        """True for each row whose hash was not seen before (earlier in this batch or in any
        batch before); remembers the new hashes."""
        n = len(hashes)
        batch = pl.DataFrame(
            {"h": hashes.cast(pl.UInt64), "i": pl.int_range(0, n, eager=True, dtype=pl.UInt32)}
        ).sort("h", maintain_order=True)  # equal hashes stay in row order: the first is kept
        new_in_batch = batch["h"].ne_missing(batch["h"].shift(1))
        candidates = batch.filter(new_in_batch)
        seen = pl.repeat(False, candidates.height, eager=True, dtype=pl.Boolean)
        for run in self._runs:
            matched = candidates.join_asof(
                run.with_columns(m=pl.col("h")), on="h", strategy="backward", check_sortedness=False
            )["m"]
            seen = seen | (matched == candidates["h"]).fill_null(False)
        fresh = candidates.filter(~seen)
        first = pl.repeat(False, n, eager=True, dtype=pl.Boolean).scatter(fresh["i"], True)
        self._add(fresh.select("h"))
        return first

    def _add(self, run: pl.DataFrame) -> None:
        if run.height == 0:
            return
        self._runs.append(run)
        # Keep run sizes decreasing geometrically: at most log2(rows) runs to check.
        while len(self._runs) >= 2 and self._runs[-1].height * 2 >= self._runs[-2].height:
            newest = self._runs.pop()
            older = self._runs.pop()
            self._runs.append(older.merge_sorted(newest, key="h"))
