"""Parse a hospital's current price files into the lake, one Parquet file per price-file version.

A version already parsed by the current parser version is reused (its result read back from the
catalog); so is a failure of the same bytes with the same parser, which would only fail again.
Every other version is parsed. A file that cannot be parsed is that file's failure, recorded
with the parser's message; the hospital's other files still land.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

import sqlalchemy as sa

from .acquire import Kind, RawStore, content_fingerprint
from .catalog import Catalog
from .catalog.schema import parsed_files
from .lake import Lake, local_copy, price_file_key
from .parsing import PARSER_VERSION, PriceFileError, Provenance, parse_price_file
from .versions import Version, current_versions

PARSED = "parsed"
REUSED = "reused"
FAILED = "failed"


@dataclass
class FileParse:
    fileid: str
    sha256: str
    status: str  # parsed | reused | failed
    lake_path: str = ""
    rows_read: int = 0
    rows_written: int = 0
    rows_rejected: int = 0
    summary: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    seconds: float = 0.0

    def describe(self) -> str:
        if self.status == FAILED:
            return f"{self.fileid} ({self.sha256[:12]}): FAILED: {self.error}"
        layout = self.summary.get("layout", "")
        return (
            f"{self.fileid} ({self.sha256[:12]}, {layout}): {self.status}, {self.rows_read:,} rows read, "
            f"{self.rows_written:,} written, {self.rows_rejected:,} rejected"
        )


@dataclass
class HospitalParse:
    hospital_key: str
    files: list[FileParse] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)

    @property
    def failures(self) -> list[FileParse]:
        return [f for f in self.files if f.status == FAILED]

    @property
    def landed(self) -> bool:
        return not self.files or len(self.failures) < len(self.files)

    def total(self, name: str) -> int:
        return sum(getattr(f, name) for f in self.files if f.status != FAILED)

    def merged(self, summary_key: str) -> dict[str, int]:
        merged: Counter[str] = Counter()
        for f in self.files:
            merged.update(f.summary.get(summary_key) or {})
        return dict(merged.most_common())

    @property
    def payers(self) -> list[str]:
        return sorted({payer for f in self.files for payer in f.summary.get("payers", [])})

    @property
    def data_version(self) -> str:
        """Changes when a current file or the parser changes."""
        return content_fingerprint([f"{f.sha256}:{PARSER_VERSION}" for f in self.files if f.status != FAILED])


def _stored_parse(catalog: Catalog, hospital_key: str, sha256: str) -> Any:
    with catalog.read() as conn:
        return conn.execute(
            sa.select(parsed_files).where(
                parsed_files.c.hospital_key == hospital_key,
                parsed_files.c.sha256 == sha256,
                parsed_files.c.parser_version == PARSER_VERSION,
            )
        ).first()


def _record(catalog: Catalog, hospital_key: str, parse: FileParse, *, run_id: str, extra: dict[str, Any]) -> None:
    values = {
        "fileid": parse.fileid,
        "status": parse.status,
        "lake_path": parse.lake_path,
        "rows_read": parse.rows_read,
        "rows_written": parse.rows_written,
        "rows_rejected": parse.rows_rejected,
        "summary": json.dumps(parse.summary, default=str),
        "error": parse.error or None,
        "seconds": round(parse.seconds, 3),
        "parsed_at": datetime.now(timezone.utc),
        "run_id": run_id,
        **extra,
    }
    key = {"hospital_key": hospital_key, "sha256": parse.sha256, "parser_version": PARSER_VERSION}
    with catalog.write() as conn:
        updated = conn.execute(
            parsed_files.update()
            .where(*(parsed_files.c[name] == value for name, value in key.items()))
            .values(**values)
        ).rowcount
        if not updated:
            conn.execute(parsed_files.insert().values(**key, **values))


@contextlib.contextmanager
def _source_path(raw_store: RawStore, version: Version, work_dir: Path) -> Iterator[Path]:
    kind = Kind(version.kind)
    path = raw_store.local_path(version.sha256, kind)
    if path is not None:
        yield path
        return
    with local_copy(lambda: raw_store.open_reader(version.sha256, kind), version.kind, work_dir) as copy:
        yield copy


def _reuse(stored: Any, version: Version) -> FileParse:
    return FileParse(
        fileid=version.fileid,
        sha256=version.sha256,
        status=REUSED if stored.status == PARSED else FAILED,
        lake_path=stored.lake_path,
        rows_read=stored.rows_read,
        rows_written=stored.rows_written,
        rows_rejected=stored.rows_rejected,
        summary=json.loads(stored.summary or "{}"),
        error=stored.error or "",
    )


def parse_version(
    catalog: Catalog,
    version: Version,
    state: str,
    raw_store: RawStore,
    lake: Lake,
    *,
    work_dir: Path,
    run_id: str,
) -> FileParse:
    key = price_file_key(state, version.hospital_key, version.sha256)
    began = time.perf_counter()
    try:
        with _source_path(raw_store, version, work_dir) as source, lake.writing(key) as out:
            result = parse_price_file(
                source, out, provenance=Provenance(version.hospital_key, version.sha256),
                kind_hint=version.kind, work_dir=work_dir,
            )
    except PriceFileError as exc:
        parse = FileParse(version.fileid, version.sha256, FAILED, error=str(exc))
    except Exception as exc:  # noqa: BLE001 - a parser defect must fail this file, not the others
        parse = FileParse(
            version.fileid, version.sha256, FAILED,
            error=f"{version.member_name or version.url} ({version.sha256[:12]}): unexpected "
            f"{type(exc).__name__}: {exc}",
        )
    else:
        summary = result.to_metadata()
        parse = FileParse(
            version.fileid, version.sha256, PARSED, lake_path=lake.uri(key),
            rows_read=result.rows_read, rows_written=result.rows_written, rows_rejected=result.rows_rejected,
            summary=summary,
        )
    parse.seconds = time.perf_counter() - began
    extra = {
        name: parse.summary.get(name, "")
        for name in ("format", "layout", "cms_version", "schema_version")
    }
    _record(catalog, version.hospital_key, parse, run_id=run_id, extra=extra)
    return parse


def parse_hospital(
    catalog: Catalog,
    hospital_key: str,
    state: str,
    raw_store: RawStore,
    lake: Lake,
    *,
    work_dir: Path,
    run_id: str,
    force: bool = False,
    log: Callable[[str], None] = lambda message: None,
) -> HospitalParse:
    began = time.perf_counter()
    outcome = HospitalParse(hospital_key=hospital_key)
    for versions in current_versions(catalog, hospital_key).values():
        for version in versions:
            stored = None if force else _stored_parse(catalog, hospital_key, version.sha256)
            key = price_file_key(state, hospital_key, version.sha256)
            if stored is not None and (stored.status == FAILED or lake.exists(key)):
                parse = _reuse(stored, version)
            else:
                parse = parse_version(
                    catalog, version, state, raw_store, lake, work_dir=work_dir, run_id=run_id
                )
            outcome.files.append(parse)
            log(parse.describe())
    outcome.seconds = time.perf_counter() - began
    return outcome


def current_price_files(catalog: Catalog, *, state: str | None = None) -> list[dict[str, Any]]:
    """The Parquet files that make up "prices now": the current version of every listed file of
    every open hospital, as parsed by the current parser. Readers go through this, never a glob
    of the lake (which keeps every version)."""
    from .catalog.schema import file_records, file_versions, hospitals

    query = (
        sa.select(
            hospitals.c.state,
            file_versions.c.hospital_key,
            file_versions.c.fileid,
            file_versions.c.sha256,
            parsed_files.c.lake_path,
            parsed_files.c.rows_written,
        )
        .select_from(
            file_versions.join(hospitals, hospitals.c.hospital_key == file_versions.c.hospital_key)
            .join(
                file_records,
                sa.and_(
                    file_records.c.hospital_key == file_versions.c.hospital_key,
                    file_records.c.fileid == file_versions.c.fileid,
                ),
            )
            .join(
                parsed_files,
                sa.and_(
                    parsed_files.c.hospital_key == file_versions.c.hospital_key,
                    parsed_files.c.sha256 == file_versions.c.sha256,
                    parsed_files.c.parser_version == PARSER_VERSION,
                    parsed_files.c.status == PARSED,
                ),
            )
        )
        .where(
            file_versions.c.is_current == sa.true(),
            file_records.c.listed == sa.true(),
            hospitals.c.status == "open",
            *([hospitals.c.state == state] if state else []),
        )
        .order_by(file_versions.c.hospital_key, file_versions.c.fileid, file_versions.c.sha256)
    )
    with catalog.read() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]
