"""Stored versions of hospital price files in the catalog.

A download becomes one version row per price file it yields (one, or one per archive member).
For each (hospital, fileid) the rows flagged current are the file as the hospital publishes it
now; older rows stay, since trends need every version.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .acquire.download import FetchOutcome, PreviousVersion
from .catalog import Catalog
from .catalog.schema import file_versions


@dataclass(frozen=True)
class Version:
    hospital_key: str
    fileid: str
    sha256: str
    kind: str
    size: int
    member_name: str
    raw_sha256: str
    raw_kind: str
    raw_size: int
    source: str
    url: str
    final_url: str
    etag: str
    last_modified: str
    signature: str


_VERSION_COLUMNS = [file_versions.c[name] for name in Version.__dataclass_fields__]


def current_versions(catalog: Catalog, hospital_key: str) -> dict[str, list[Version]]:
    """The current price files of a hospital, by fileid."""
    query = (
        sa.select(*_VERSION_COLUMNS)
        .where(file_versions.c.hospital_key == hospital_key, file_versions.c.is_current == sa.true())
        .order_by(file_versions.c.fileid, file_versions.c.member_name, file_versions.c.sha256)
    )
    by_file: dict[str, list[Version]] = {}
    with catalog.read() as conn:
        for row in conn.execute(query):
            by_file.setdefault(row.fileid, []).append(Version(**row._mapping))
    return by_file


def previous_version(versions: list[Version]) -> PreviousVersion | None:
    """Validators and hashes of the current version, for a conditional request."""
    if not versions:
        return None
    first = versions[0]
    return PreviousVersion(
        etag=first.etag,
        last_modified=first.last_modified,
        # Validators belong to the URL that served them; a moved file is fetched in full (and
        # still recognised as unchanged by its hashes).
        url=first.url,
        sha256=first.raw_sha256,
        price_file_sha256s=tuple(v.sha256 for v in versions),
    )


def shared_versions(catalog: Catalog, fileid: str, signature: str, *, exclude_hospital: str) -> list[Version]:
    """Another hospital's current version of the same file at the same PRA signature: a file
    shared across a health system is then fetched once per version, not once per hospital."""
    query = (
        sa.select(*_VERSION_COLUMNS)
        .where(
            file_versions.c.fileid == fileid,
            file_versions.c.signature == signature,
            file_versions.c.is_current == sa.true(),
            file_versions.c.hospital_key != exclude_hospital,
        )
        .order_by(file_versions.c.hospital_key, file_versions.c.member_name, file_versions.c.sha256)
    )
    with catalog.read() as conn:
        rows = [Version(**row._mapping) for row in conn.execute(query)]
    if not rows:
        return []
    donor = rows[0].hospital_key
    return [row for row in rows if row.hospital_key == donor]


def versions_from_outcome(
    hospital_key: str, fileid: str, outcome: FetchOutcome, signature: str
) -> list[Version]:
    assert outcome.raw is not None and outcome.kind is not None
    members = outcome.price_files or []
    common = dict(
        hospital_key=hospital_key,
        fileid=fileid,
        raw_sha256=outcome.raw.sha256,
        raw_kind=outcome.kind.value,
        raw_size=outcome.raw.size,
        source=outcome.source or "",
        url=outcome.url or outcome.request_url,
        final_url=outcome.final_url or "",
        etag=outcome.etag or "",
        last_modified=outcome.last_modified or "",
        signature=signature,
    )
    return [
        Version(sha256=member.sha256, kind=member.kind.value, size=member.size,
                member_name=member.name if outcome.kind.is_archive else "", **common)
        for member in members
    ]


def _current_of(hospital_key: str, fileid: str) -> tuple:
    """Where-conditions for the current version rows of one (hospital, fileid)."""
    return (
        file_versions.c.hospital_key == hospital_key,
        file_versions.c.fileid == fileid,
        file_versions.c.is_current == sa.true(),
    )


def _mark(conn: Connection, hospital_key: str, fileid: str, keep: set[str]) -> set[str]:
    """Make exactly `keep` the current set; returns the hashes that were already stored."""
    conn.execute(
        file_versions.update()
        .where(*_current_of(hospital_key, fileid), file_versions.c.sha256.not_in(keep) if keep else sa.true())
        .values(is_current=False)
    )
    return set(
        conn.execute(
            sa.select(file_versions.c.sha256).where(
                file_versions.c.hospital_key == hospital_key,
                file_versions.c.fileid == fileid,
                file_versions.c.sha256.in_(keep),
            )
        ).scalars()
    )


def record_versions(
    catalog: Catalog,
    versions: list[Version],
    *,
    retrieved: str,
    run_id: str,
    outcome: FetchOutcome | None = None,
    now: datetime | None = None,
) -> None:
    """Make `versions` the current set of their (hospital, fileid), keeping earlier rows."""
    if not versions:
        return
    now = now or datetime.now(timezone.utc)
    hospital_key, fileid = versions[0].hospital_key, versions[0].fileid
    extra: dict[str, Any] = {
        "retrieved": retrieved,
        "run_id": run_id,
        "last_seen_at": now,
        "is_current": True,
    }
    if outcome is not None:
        extra.update(
            archive_members=json.dumps(outcome.member_names),
            http_status=outcome.http_status,
            content_type=outcome.content_type or "",
            bytes_transferred=outcome.bytes_transferred,
            seconds=round(outcome.seconds, 3),
            timings=json.dumps({k: round(v, 3) for k, v in outcome.timings.items()}),
        )
    with catalog.write() as conn:
        existing = _mark(conn, hospital_key, fileid, {v.sha256 for v in versions})
        for version in versions:
            values = {**version.__dict__, **extra}
            if version.sha256 in existing:
                conn.execute(
                    file_versions.update()
                    .where(
                        file_versions.c.hospital_key == hospital_key,
                        file_versions.c.fileid == fileid,
                        file_versions.c.sha256 == version.sha256,
                    )
                    .values(**values)
                )
            else:
                conn.execute(file_versions.insert().values(**values, first_seen_at=now))


def confirm_current(
    catalog: Catalog, hospital_key: str, fileid: str, *, signature: str, retrieved: str, now: datetime | None = None
) -> None:
    """The current version is still what the hospital publishes (304, or the same bytes)."""
    now = now or datetime.now(timezone.utc)
    with catalog.write() as conn:
        conn.execute(
            file_versions.update()
            .where(*_current_of(hospital_key, fileid))
            .values(signature=signature, retrieved=retrieved, last_seen_at=now)
        )
