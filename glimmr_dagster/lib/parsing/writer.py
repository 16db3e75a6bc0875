"""Write table batches to one Parquet file, atomically.

The batches come from a Python generator (the format readers), and polars' streaming sink writes
them: its writer encodes and compresses columns on the engine's threads while the generator
produces the next batch, which on a two-core machine is what keeps parsing within reach of a bare
CSV-to-Parquet conversion. The sink consumes the generator through polars' IO-source plugin
interface, so this module is the one place that depends on it.

Atomicity: the file is written under a temporary name in the destination directory and renamed
into place only after the sink finished; on any failure the temporary file is removed and nothing
exists at the destination.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import polars as pl
from polars.io.plugins import register_io_source

from .schema import POLARS_SCHEMA, SCHEMA_VERSION

# DuckDB's own row-group size: scans stay parallel, and the sink buffers little before writing.
ROW_GROUP_ROWS = 122_880
# No min/max statistics: a price file's rows are in the hospital's order, so a row group's
# minimum and maximum of a code, payer or amount span nearly the whole range and would let a
# reader skip almost nothing, while computing them is about a sixth of the writer's CPU.
# Null counts are kept (cheap, and they answer "is this column ever filled").
STATISTICS = {"min": False, "max": False, "distinct_count": False, "null_count": True}
# zstd at level 2: files as small as at the default level 3 (within 2% on price tables), for about
# an eighth less of the writer's CPU.
ZSTD_LEVEL = 2


def write_table(batches: Iterator[pl.DataFrame], out_path: Path, *, parser_version: str) -> None:
    """Drain `batches` (frames in the table schema) into `out_path`."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = out_path.with_name(f".{out_path.name}.{uuid.uuid4().hex}.tmp")
    failure: list[BaseException] = []

    def source(with_columns, predicate, n_rows, batch_size):  # noqa: ARG001 (the sink reads all)
        try:
            for batch in batches:
                if batch.height:
                    yield batch
        except BaseException as exc:  # handed back to the caller unchanged, below
            failure.append(exc)
            raise

    try:
        register_io_source(source, schema=POLARS_SCHEMA).sink_parquet(
            tmp_path,
            compression="zstd",
            compression_level=ZSTD_LEVEL,
            row_group_size=ROW_GROUP_ROWS,
            statistics=STATISTICS,
            metadata={"glimmr.schema_version": SCHEMA_VERSION, "glimmr.parser_version": parser_version},
        )
        os.replace(tmp_path, out_path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        if failure:
            raise failure[0] from None
        raise
