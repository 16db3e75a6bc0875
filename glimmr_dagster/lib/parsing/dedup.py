"""Exact-duplicate detection over a whole file with memory for hashes only.

Each source row is reduced to a 64-bit hash. The hashes seen so far live in a few sorted runs that
are merged as they grow (the way a log-structured index keeps its levels), 8 bytes per distinct
row (about 150 MB for 19 million rows). A batch is checked by sorting its hashes (which also finds
the rows repeated within the batch) and matching the distinct ones against each run with an as-of
join on the sorted keys: linear, cache-friendly, and it never copies a run (the match marker is a
constant column). Two different rows share a 64-bit hash with probability about n²/2⁶⁵ (3 in a
million for 10 million rows), a risk accepted in exchange for not holding the file.
"""

from __future__ import annotations

import polars as pl

# The seed of every row hash the parsers compute (fixed: the same row hashes the same way in
# every batch and every run).
HASH_SEED = 0x5EED

# Runs per level before they are merged into one run of the next level: each hash is merged
# about log_FAN_OUT(batches) times, and at most FAN_OUT runs per level are searched.
FAN_OUT = 8
# Runs stop growing at this size: a merge needs its inputs and its output in memory at once, and
# the as-of joins cost the same per hash whether the hashes sit in a few runs or in many.
MAX_MERGED_ROWS = 2_000_000
_FINAL = 1 << 30  # the level of runs that are no longer merged


class SeenRows:
    def __init__(self) -> None:
        self._runs: list[tuple[int, pl.DataFrame]] = []  # (level, sorted distinct "h" + constant "m")

    @property
    def size(self) -> int:
        return sum(run.height for _, run in self._runs)

    def first_occurrences(self, hashes: pl.Series) -> pl.Series:
        """True for each row whose hash was not seen before (earlier in this batch or in any
        batch before); remembers the new hashes."""
        hashes = hashes.cast(pl.UInt64)
        # Sorted on this thread (as fast for a batch's hashes, and polars' threads stay with the
        # reader and the writer: 3% less time per tall CSV, measured); so are the merges below.
        ordered = hashes.sort(multithreaded=False)
        repeated_here = ordered.filter(ordered.eq_missing(ordered.shift(1)))
        distinct = ordered.filter(ordered.ne_missing(ordered.shift(1))).set_sorted() if repeated_here.len() else ordered
        seen_before = None
        if self._runs and distinct.len():
            candidates = pl.DataFrame({"h": distinct})
            seen = None
            for _, run in self._runs:
                matched = candidates.join_asof(run, on="h", strategy="backward", tolerance=0, check_sortedness=False)["m"]
                seen = matched.is_not_null() if seen is None else seen | matched.is_not_null()
            if seen.any():
                seen_before = distinct.filter(seen)
                distinct = distinct.filter(~seen).set_sorted()
        self._add(distinct)
        # Rows: not first where the hash was seen in an earlier batch, or earlier in this one.
        if seen_before is None:
            first = pl.repeat(True, hashes.len(), eager=True, dtype=pl.Boolean)
        else:
            first = ~hashes.is_in(seen_before.implode())
        if repeated_here.len():
            suspects = hashes.is_in(repeated_here.unique().implode()).arg_true()
            first = first.scatter(suspects.filter(~hashes.gather(suspects).is_first_distinct()), False)
        return first

    def _add(self, hashes: pl.Series) -> None:
        if hashes.len() == 0:
            return
        self._runs.append((0, _run(hashes)))
        while True:
            level = self._runs[-1][0]
            same = [run for lvl, run in self._runs if lvl == level]
            if level == _FINAL or len(same) < FAN_OUT:
                return
            self._runs = [(lvl, run) for lvl, run in self._runs if lvl != level]
            merged = _run(pl.concat([run["h"] for run in same], rechunk=True).sort(multithreaded=False))
            self._runs.append((level + 1 if merged.height <= MAX_MERGED_ROWS else _FINAL, merged))


def _run(hashes: pl.Series) -> pl.DataFrame:
    return pl.DataFrame({"h": hashes.rechunk()}).with_columns(m=pl.lit(True))
