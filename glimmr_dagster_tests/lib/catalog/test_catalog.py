import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from glimmr_dagster.lib.catalog import Catalog
from glimmr_dagster.lib.catalog.migrations import LATEST_VERSION, current_version, migrate
from glimmr_dagster.lib.catalog.schema import state_scans


def test_migrations_create_every_table_and_are_idempotent(catalog):
    with catalog.read() as conn:
        assert current_version(conn) == LATEST_VERSION
        tables = set(sa.inspect(conn).get_table_names())
    assert {"schema_migrations", "hospitals", "file_records", "state_scans", "rate_limit_events"} <= tables
    assert migrate(catalog.engine) == []


def test_concurrent_first_opens_migrate_once(catalog_url):
    with ThreadPoolExecutor(max_workers=4) as pool:
        catalogs = list(pool.map(lambda _: Catalog(catalog_url), range(4)))
    with catalogs[0].read() as conn:
        versions = conn.execute(sa.text("SELECT version FROM schema_migrations")).scalars().all()
    assert versions == list(range(1, LATEST_VERSION + 1))
    for store in catalogs:
        store.dispose()


def test_timestamps_round_trip_as_aware_utc(catalog):
    started = datetime(2026, 3, 1, 7, 30, tzinfo=timezone(timedelta(hours=-5)))
    with catalog.write() as conn:
        conn.execute(state_scans.insert().values(state="CA", started_at=started, finished_at=started, status="succeeded"))
    with catalog.read() as conn:
        stored = conn.execute(sa.select(state_scans.c.started_at)).scalar_one()
    assert stored == started and stored.tzinfo is not None
    assert stored.utcoffset() == timedelta(0)


def test_naive_timestamps_are_refused(catalog):
    with pytest.raises(sa.exc.StatementError, match="timezone-aware"):
        with catalog.write() as conn:
            conn.execute(state_scans.insert().values(
                state="CA", started_at=datetime(2026, 1, 1), finished_at=datetime(2026, 1, 1), status="x"))


def test_failed_write_transaction_leaves_nothing(catalog):
    now = datetime.now(timezone.utc)
    with pytest.raises(RuntimeError):
        with catalog.write() as conn:
            conn.execute(state_scans.insert().values(state="CA", started_at=now, finished_at=now, status="x"))
            raise RuntimeError("boom")
    with catalog.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(state_scans)).scalar() == 0


_WRITER = """
import sys
from datetime import datetime, timezone
from glimmr_dagster.lib.catalog import Catalog
from glimmr_dagster.lib.catalog.schema import state_scans
import sqlalchemy as sa
store = Catalog(sys.argv[1])
for i in range(40):
    with store.write() as conn:
        # Read then write in one transaction: the pattern that deadlocks without BEGIN IMMEDIATE.
        n = conn.execute(sa.select(sa.func.count()).select_from(state_scans)).scalar()
        now = datetime.now(timezone.utc)
        conn.execute(state_scans.insert().values(state="CA", started_at=now, finished_at=now,
                     status="succeeded", hospitals=n))
"""


def test_concurrent_processes_write_sqlite_without_lock_errors(sqlite_catalog):
    url = sqlite_catalog.url
    writers = [subprocess.Popen([sys.executable, "-c", _WRITER, url], stderr=subprocess.PIPE, text=True)
               for _ in range(4)]
    errors = [writer.communicate(timeout=120)[1] for writer in writers]
    assert [writer.returncode for writer in writers] == [0, 0, 0, 0], errors
    with sqlite_catalog.read() as conn:
        counts = conn.execute(sa.select(state_scans.c.hospitals)).scalars().all()
    assert len(counts) == 160
    # Every read-then-insert saw the rows before it: the transactions were serialized.
    assert sorted(counts) == list(range(160))
