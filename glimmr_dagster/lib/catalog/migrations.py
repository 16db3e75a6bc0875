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

Step = Callable[[Connection], None]


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    steps: tuple[Step, ...]

    def apply(self, conn: Connection) -> None:
        for step in self.steps:
            step(conn)


def _create_tables(*tables: sa.Table) -> Step:
    def apply(conn: Connection) -> None:
        schema.metadata.create_all(conn, tables=list(tables), checkfirst=True)

    return apply


def _add_missing_columns(table: sa.Table, *names: str) -> Step:
    """Add columns an older database lacks (a table created in the current shape has them)."""

    def apply(conn: Connection) -> None:
        present = {column["name"] for column in sa.inspect(conn).get_columns(table.name)}
        for name in names:
            if name in present:
                continue
            column = table.c[name]
            ddl_type = column.type.compile(dialect=conn.dialect)
            default = f" DEFAULT '{column.server_default.arg}'" if column.server_default is not None else ""
            null = "" if column.nullable else " NOT NULL"
            conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {name} {ddl_type}{default}{null}")

    return apply


def _fill_file_signatures(conn: Connection) -> None:
    from ..pra.records import FileRecord

    records = schema.file_records
    rows = conn.execute(
        sa.select(records.c.hospital_key, records.c.fileid, records.c.retrieved, records.c.retrieved_at,
                  records.c.size, records.c.url).where(records.c.signature == "")
    ).all()
    if not rows:
        return
    conn.execute(
        records.update()
        .where(records.c.hospital_key == sa.bindparam("b_key"), records.c.fileid == sa.bindparam("b_fileid"))
        .values(signature=sa.bindparam("signature")),
        [
            {
                "b_key": row.hospital_key,
                "b_fileid": row.fileid,
                "signature": FileRecord(
                    fileid=row.fileid, retrieved=row.retrieved, retrieved_at=row.retrieved_at,
                    size=row.size, url=row.url,
                ).signature(),
            }
            for row in rows
        ],
    )


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "hospitals, file records, state scans, shared rate limit",
        (_create_tables(schema.hospitals, schema.file_records, schema.state_scans, schema.rate_limit_events),),
    ),
    Migration(
        2,
        "file signatures and acquisition attempts, for the change sensor",
        (
            _add_missing_columns(schema.file_records, "signature"),
            _fill_file_signatures,
            _create_tables(schema.file_acquisitions),
        ),
    ),
    Migration(3, "file versions: every stored version of every price file", (_create_tables(schema.file_versions),)),
    Migration(4, "parsed files: the standard-charges Parquet of each version", (_create_tables(schema.parsed_files),)),
)

LATEST_VERSION = MIGRATIONS[-1].version


def current_version(conn: Connection) -> int:
    if not sa.inspect(conn).has_table(schema.schema_migrations.name):
        return 0
    value = conn.execute(sa.select(sa.func.max(schema.schema_migrations.c.version))).scalar()
    return int(value or 0)


def migrate(engine: Engine, write_options: dict | None = None, target: int = LATEST_VERSION) -> list[int]:
    """Apply every pending migration up to `target`; returns the versions applied."""
    with engine.connect() as conn:
        with conn.begin():
            if current_version(conn) >= target:
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
                if migration.version <= version or migration.version > target:
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
