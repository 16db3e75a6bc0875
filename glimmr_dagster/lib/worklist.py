"""Which hospitals need their price files fetched, and the bookkeeping of attempts.

A listed file of an open hospital needs work when its signature (PRA's `retrieved`, `size`
and `url`) differs from the one last acquired, including never acquired. A failing file is
retried with exponential backoff, from an hour up to a day: an attempt is counted when a run
starts work on the file, so even a run that dies without reporting backs off.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from .catalog import Catalog
from .catalog.schema import file_acquisitions, file_records, hospitals

FIRST_RETRY_DELAY = timedelta(hours=1)
MAX_RETRY_DELAY = timedelta(days=1)


def retry_delay(attempts: int) -> timedelta:
    """Wait after `attempts` consecutive failed attempts: 1 h, 2 h, 4 h, ... capped at 24 h."""
    if attempts <= 0:
        return timedelta(0)
    return min(FIRST_RETRY_DELAY * (2 ** (attempts - 1)), MAX_RETRY_DELAY)


@dataclass(frozen=True)
class FileWork:
    fileid: str
    signature: str
    acquired_signature: str
    attempts: int

    @property
    def is_new(self) -> bool:
        return not self.acquired_signature


@dataclass
class HospitalWork:
    hospital_key: str
    state: str
    files: list[FileWork] = field(default_factory=list)

    @property
    def attempt(self) -> int:
        """The attempt this run would be: 0 for fresh work, n after n failed attempts."""
        return max((f.attempts for f in self.files), default=0)

    @property
    def reason(self) -> str:
        if self.attempt:
            return "retry"
        return "new" if all(f.is_new for f in self.files) else "changed"

    @property
    def run_key(self) -> str:
        """Stable for the same work and attempt, so a re-request while queued is deduplicated;
        a new signature or a further attempt makes a new key."""
        digest = hashlib.sha256(
            "\n".join(f"{f.fileid}\x1f{f.signature}" for f in sorted(self.files, key=lambda f: f.fileid)).encode()
        ).hexdigest()[:16]
        return f"{self.hospital_key}:{digest}:attempt-{self.attempt}"


def _needs_work():
    acquired = sa.func.coalesce(file_acquisitions.c.acquired_signature, "")
    return sa.and_(
        file_records.c.listed == sa.true(),
        hospitals.c.status == "open",
        acquired != file_records.c.signature,
    )


def _joined():
    return file_records.join(hospitals, hospitals.c.hospital_key == file_records.c.hospital_key).outerjoin(
        file_acquisitions,
        sa.and_(
            file_acquisitions.c.hospital_key == file_records.c.hospital_key,
            file_acquisitions.c.fileid == file_records.c.fileid,
        ),
    )


def hospitals_needing_work(
    catalog: Catalog, *, now: datetime | None = None, after: str = "", limit: int = 300
) -> list[HospitalWork]:
    """Up to `limit` hospitals (key order, after `after`) with files that need work and are due."""
    now = now or datetime.now(timezone.utc)
    due = sa.or_(file_acquisitions.c.next_attempt_at.is_(None), file_acquisitions.c.next_attempt_at <= now)
    keys = (
        sa.select(file_records.c.hospital_key)
        .select_from(_joined())
        .where(_needs_work(), due, file_records.c.hospital_key > after)
        .group_by(file_records.c.hospital_key)
        .order_by(file_records.c.hospital_key)
        .limit(limit)
        .subquery()
    )
    query = (
        sa.select(
            file_records.c.hospital_key,
            hospitals.c.state,
            file_records.c.fileid,
            file_records.c.signature,
            sa.func.coalesce(file_acquisitions.c.acquired_signature, "").label("acquired_signature"),
            sa.func.coalesce(file_acquisitions.c.attempts, 0).label("attempts"),
        )
        .select_from(_joined().join(keys, keys.c.hospital_key == file_records.c.hospital_key))
        .where(_needs_work(), due)
        .order_by(file_records.c.hospital_key, file_records.c.fileid)
    )
    work: dict[str, HospitalWork] = {}
    with catalog.read() as conn:
        for row in conn.execute(query):
            item = work.setdefault(row.hospital_key, HospitalWork(row.hospital_key, row.state))
            item.files.append(FileWork(row.fileid, row.signature, row.acquired_signature, int(row.attempts)))
    return list(work.values())


@dataclass(frozen=True)
class ListedFile:
    """A file the index lists for a hospital, as the catalog holds it when a run starts."""

    hospital_key: str
    fileid: str
    signature: str
    acquired_signature: str
    url: str
    size: int | None
    retrieved: str
    storage: str
    project: str
    filename: str

    @property
    def needs_work(self) -> bool:
        return self.acquired_signature != self.signature


def listed_files(catalog: Catalog, hospital_key: str) -> list[ListedFile]:
    query = (
        sa.select(
            file_records.c.hospital_key,
            file_records.c.fileid,
            file_records.c.signature,
            sa.func.coalesce(file_acquisitions.c.acquired_signature, "").label("acquired_signature"),
            file_records.c.url,
            file_records.c.size,
            file_records.c.retrieved,
            file_records.c.storage,
            file_records.c.project,
            file_records.c.filename,
        )
        .select_from(_joined())
        .where(file_records.c.hospital_key == hospital_key, file_records.c.listed == sa.true())
        .order_by(file_records.c.fileid)
    )
    with catalog.read() as conn:
        return [ListedFile(**row._mapping) for row in conn.execute(query)]


def _upsert_acquisition(conn, hospital_key: str, fileid: str, values: dict) -> None:
    table = file_acquisitions
    updated = conn.execute(
        table.update()
        .where(table.c.hospital_key == hospital_key, table.c.fileid == fileid)
        .values(**values)
    ).rowcount
    if not updated:
        conn.execute(table.insert().values(hospital_key=hospital_key, fileid=fileid, **values))


def record_attempt_started(
    catalog: Catalog, hospital_key: str, fileids: list[str], *, run_id: str, now: datetime | None = None
) -> None:
    """Count an attempt and schedule the next one before doing any work."""
    now = now or datetime.now(timezone.utc)
    table = file_acquisitions
    with catalog.write() as conn:
        for fileid in fileids:
            attempts = conn.execute(
                sa.select(table.c.attempts).where(table.c.hospital_key == hospital_key, table.c.fileid == fileid)
            ).scalar()
            attempts = (attempts or 0) + 1
            _upsert_acquisition(
                conn, hospital_key, fileid,
                {"attempts": attempts, "last_attempt_at": now, "next_attempt_at": now + retry_delay(attempts),
                 "last_run_id": run_id},
            )


def record_acquired(
    catalog: Catalog, hospital_key: str, fileid: str, signature: str, *, now: datetime | None = None
) -> None:
    """The file's current version is in hand: the signature the run started from is acquired."""
    now = now or datetime.now(timezone.utc)
    with catalog.write() as conn:
        _upsert_acquisition(
            conn, hospital_key, fileid,
            {"acquired_signature": signature, "acquired_at": now, "attempts": 0, "next_attempt_at": None,
             "last_error": None},
        )


def record_failed(catalog: Catalog, hospital_key: str, fileid: str, error: str) -> None:
    """Keep the error; the attempt and its backoff were counted when the attempt started."""
    with catalog.write() as conn:
        _upsert_acquisition(conn, hospital_key, fileid, {"last_error": error[:4000]})
