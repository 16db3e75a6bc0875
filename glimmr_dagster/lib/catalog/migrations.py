"""Versioned catalog migrations.

`schema.py` describes the current tables. A migration that introduces a table creates it from
that description; a migration that changes an existing table must be written so it is a no-op
on a table already created in the new shape (add a column only if it is missing, and so on).
Migrations run in one transaction under a lock, so concurrent first runs cannot race.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from . import schema

# Any fixed 64-bit key serializes migrations on PostgreSQL (pg_advisory_xact_lock).
_PG_MIGRATION_LOCK_KEY = zlib.crc32(b"glimmr_dagster.catalog.migrations")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    apply: Callable[[Connection], None]


def _create_tables(*tables: sa.Table) -> Callable[[Connection], None]:
    def apply(conn: Connection) -> None:
        schema.metadata.create_all(conn, tables=list(tables), checkfirst=True)

    return apply


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "hospitals, file records, state scans, shared rate limit",
        _create_tables(
            schema.hospitals, schema.file_records, schema.state_scans, schema.rate_limit_events
        ),
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version


def current_version(conn: Connection) -> int:
    if not sa.inspect(conn).has_table(schema.schema_migrations.name):
        return 0
    value = conn.execute(sa.select(sa.func.max(schema.schema_migrations.c.version))).scalar()
    return int(value or 0)


def migrate(engine: Engine, write_options: dict | None = None) -> list[int]:
    """Apply every pending migration; returns the versions applied (empty when up to date)."""
    with engine.connect() as conn:
        with conn.begin():
            if current_version(conn) >= LATEST_VERSION:
                return []
    applied: list[int] = []
    with engine.connect() as conn:
        conn = conn.execution_options(**(write_options or {}))
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK_KEY})
            schema.schema_migrations.create(conn, checkfirst=True)
            version = current_version(conn)
            for migration in MIGRATIONS:
                if migration.version <= version:
                    continue
                migration.apply(conn)
                conn.execute(
                    schema.schema_migrations.insert().values(
                        version=migration.version,
                        name=migration.name,
                        applied_at=datetime.now(timezone.utc),
                    )
                )
                applied.append(migration.version)
    return applied
