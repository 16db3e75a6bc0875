"""One side of one benchmark, run in its own process so its peak memory can be measured alone.

    python -m benchmarks.parsing.child <side> <source> [<out>]

Prints one JSON line: {"seconds": ..., "rows": ..., "vm_hwm_bytes": ...}; VmHWM is this process's
own resident high-water mark since exec, a cross-check of the parent's wait4 figure.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def baseline_csv_to_parquet(source: Path, out: Path) -> int:
    """The named baseline for tall CSV: polars' own streaming CSV → Parquet, every cell text."""
    import polars as pl

    pl.scan_csv(source, skip_rows=2, infer_schema=False).sink_parquet(out)
    return pl.scan_parquet(out).select(pl.len()).collect().item()


def baseline_csv_read(source: Path, out: Path) -> int:
    """The named baseline for wide CSV: a plain polars read of the whole file, every cell text."""
    import polars as pl

    return pl.read_csv(source, skip_rows=2, infer_schema=False).height


def _ijson_items(source: Path, use_float: bool) -> int:
    import ijson

    assert ijson.backend == "yajl2_c", ijson.backend
    count = 0
    with open(source, "rb") as handle:
        for _ in ijson.items(handle, "standard_charge_information.item", use_float=use_float):
            count += 1
    return count


def baseline_ijson(source: Path, out: Path) -> int:
    """The named baseline for JSON: a bare ijson (yajl2_c) pass over the items, default options."""
    return _ijson_items(source, use_float=False)


def baseline_ijson_float(source: Path, out: Path) -> int:
    """The same pass with floats instead of Decimals (as the parser reads numbers)."""
    return _ijson_items(source, use_float=True)


def glimmr_parse(source: Path, out: Path) -> int:
    from glimmr_dagster.lib.parsing import Provenance, parse_price_file

    result = parse_price_file(source, out, provenance=Provenance("BENCH-1", "0" * 64))
    return result.rows_written


SIDES = {
    "baseline_csv_to_parquet": baseline_csv_to_parquet,
    "baseline_csv_read": baseline_csv_read,
    "baseline_ijson": baseline_ijson,
    "baseline_ijson_float": baseline_ijson_float,
    "glimmr": glimmr_parse,
}


def main() -> None:
    side, source = sys.argv[1], Path(sys.argv[2])
    out = Path(sys.argv[3]) if len(sys.argv) > 3 else source.with_suffix(".out.parquet")
    started = time.perf_counter()
    rows = SIDES[side](source, out)
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "rows": rows, "vm_hwm_bytes": _vm_hwm()}))


def _vm_hwm() -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


if __name__ == "__main__":
    main()
