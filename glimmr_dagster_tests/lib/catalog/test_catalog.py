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


def test_version_1_database_is_carried_forward_with_file_signatures(catalog_url):
    """A catalog created before file signatures existed gets the column, filled, and new tables."""
    from glimmr_dagster.lib.catalog import create_catalog_engine
    from glimmr_dagster.lib.catalog.schema import file_records, hospitals
    from glimmr_dagster.lib.pra.records import FileRecord, parse_retrieved

    engine = create_catalog_engine(catalog_url)
    assert migrate(engine, target=1) == [1]
    with engine.begin() as conn:
        # Recreate file_records as version 1 shaped it (without `signature`).
        file_records.drop(conn)
        conn.exec_driver_sql(
            "CREATE TABLE file_records (hospital_key VARCHAR(80) NOT NULL, fileid VARCHAR(128) NOT NULL, "
            "facility_id VARCHAR(64) NOT NULL, filename TEXT NOT NULL DEFAULT '', filesuffix VARCHAR(20) NOT NULL DEFAULT '', "
            "filetype VARCHAR(40) NOT NULL DEFAULT '', retrieved VARCHAR(64) NOT NULL DEFAULT '', retrieved_at TIMESTAMP, "
            "size BIGINT, url TEXT NOT NULL DEFAULT '', pageurl TEXT NOT NULL DEFAULT '', converted BOOLEAN, "
            "storage TEXT NOT NULL DEFAULT '', project TEXT NOT NULL DEFAULT '', listed BOOLEAN NOT NULL DEFAULT TRUE, "
            "first_seen_at TIMESTAMP NOT NULL, last_seen_at TIMESTAMP NOT NULL, changed_at TIMESTAMP NOT NULL, "
            "PRIMARY KEY (hospital_key, fileid))"
        )
        now = datetime.now(timezone.utc)
        conn.execute(hospitals.insert().values(
            hospital_key="NV-a", facility_id="a", state="NV", name="A", fingerprint="x",
            first_seen_at=now, last_seen_at=now, changed_at=now))
        conn.exec_driver_sql(
            "INSERT INTO file_records (hospital_key, fileid, facility_id, retrieved, retrieved_at, size, url, "
            "first_seen_at, last_seen_at, changed_at) VALUES ('NV-a', 'f1', 'a', '2026-01-02 03:04:05', "
            "'2026-01-02 03:04:05', 10, 'https://h.example/f1.csv', '2026-01-02', '2026-01-02', '2026-01-02')"
        )
    assert migrate(engine) == list(range(2, LATEST_VERSION + 1))
    expected = FileRecord(fileid="f1", retrieved="2026-01-02 03:04:05",
                          retrieved_at=parse_retrieved("2026-01-02 03:04:05"), size=10,
                          url="https://h.example/f1.csv").signature()
    with engine.connect() as conn:
        assert conn.execute(sa.select(file_records.c.signature)).scalar_one() == expected
        assert sa.inspect(conn).has_table("file_acquisitions")
    engine.dispose()
