"""Connections to the catalog: SQLite by default, PostgreSQL by URL.

Many Dagster runs write the catalog at once (one run per hospital). On SQLite that needs WAL
(readers never block the writer), a busy timeout (writers queue instead of failing), and write
transactions that take the write lock up front (`BEGIN IMMEDIATE`): a deferred transaction
that reads first and writes later can deadlock against another writer and fail at once.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from .migrations import migrate

SQLITE_BUSY_TIMEOUT_MS = 60_000
_WRITE_OPTION = "glimmr_write"


def is_sqlite(url: str | sa.engine.URL) -> bool:
    return sa.engine.make_url(url).get_backend_name() == "sqlite"


def _enable_wal(cursor, attempts: int = 300) -> None:
    """Switch a database to WAL once; WAL is persistent, so later connections find it set.

    Switching needs an exclusive lock, and SQLite answers "locked" at once (without its busy
    handler) while another process holds one, as when several runs open a new catalog together.
    """
    for attempt in range(attempts):
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
                return
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt + 1 == attempts:
                raise
            time.sleep(0.1)


def create_catalog_engine(url: str) -> Engine:
    parsed = sa.engine.make_url(url)
    if parsed.drivername == "postgresql":
        # The driver the project ships; SQLAlchemy 2.1 would otherwise look for psycopg 3.
        parsed = parsed.set(drivername="postgresql+psycopg2")
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(parsed, pool_pre_ping=True, pool_size=2, max_overflow=4)

    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        parsed,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
    )

    @sa.event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record):
        # Let SQLAlchemy's begin event decide how transactions start (see module docstring).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        _enable_wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: Connection):
        write = conn.get_execution_options().get(_WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


class Catalog:
    """The catalog database: an engine plus read and write transactions.

    Opening a catalog brings its schema up to date (one cheap version query when it already
    is), so every entry point (Dagster runs, the CLI, tests) works without a setup step.
    """

    def __init__(self, url: str, engine: Engine | None = None):
        self.url = url
        self.engine = engine or create_catalog_engine(url)
        migrate(self.engine, write_options={_WRITE_OPTION: True})

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction, committed on success and rolled back on any error."""
        with self.engine.connect() as conn:
            conn = conn.execution_options(**{_WRITE_OPTION: True})
            with conn.begin():
                yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            with conn.begin():
                yield conn

    def dispose(self) -> None:
        self.engine.dispose()
