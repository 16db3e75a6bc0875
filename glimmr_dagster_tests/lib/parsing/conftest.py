"""Helpers for the parsing tests: where the shared CMS fixtures live, and a parse-and-read call."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

from glimmr_dagster.lib.parsing import ParseResult, Provenance, parse_price_file

REPO_ROOT = Path(__file__).resolve().parents[3]
# The fixtures are shared between projects and live beside the repository (../shared/...).
CMS_FIXTURES = Path(os.environ.get("GLIMMR_CMS_FIXTURES", REPO_ROOT.parent / "shared" / "fixtures" / "cms"))

PROVENANCE = Provenance(hospital_key="CA-TEST", file_sha256="0" * 64)


def fixture_path(relative: str) -> Path:
    path = CMS_FIXTURES / relative
    if not path.exists():
        pytest.skip(f"shared CMS fixture missing: {path} (set GLIMMR_CMS_FIXTURES)")
    return path


@dataclass
class Parsed:
    result: ParseResult
    table: pl.DataFrame
    out_path: Path

    def rows(self, **where) -> list[dict]:
        """Table rows (as dicts) whose columns equal the given values."""
        frame = self.table
        for column, value in where.items():
            frame = frame.filter(pl.col(column).cast(pl.String) == value)
        return frame.to_dicts()

    def row(self, **where) -> dict:
        found = self.rows(**where)
        assert len(found) == 1, f"expected one row for {where}, found {len(found)}"
        return found[0]


@pytest.fixture
def parse(tmp_path):
    counter = iter(range(1_000_000))

    def _parse(source: Path, kind_hint: str | None = None) -> Parsed:
        out = tmp_path / "lake" / f"{next(counter)}.parquet"
        result = parse_price_file(source, out, provenance=PROVENANCE, kind_hint=kind_hint)
        return Parsed(result, pl.read_parquet(out), out)

    return _parse


@pytest.fixture
def write(tmp_path):
    """Write bytes (or text, UTF-8) to a file in the test's directory and return its path."""

    def _write(name: str, content: bytes | str) -> Path:
        path = tmp_path / "src" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        return path

    return _write
