"""Shared fixtures: real SQLite and PostgreSQL catalogs, a data directory, a Dagster instance."""

from __future__ import annotations

import itertools

import pytest

from glimmr_dagster.lib.catalog import Catalog

from .services import start_postgres

_database_names = itertools.count()


@pytest.fixture(scope="session")
def postgres_server():
    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_url(request, tmp_path) -> str:
    """A fresh, empty catalog database on each backend the project supports."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    server = request.getfixturevalue("postgres_server")
    return server.create_database(f"catalog_{next(_database_names)}")


@pytest.fixture
def catalog(catalog_url):
    store = Catalog(catalog_url)
    yield store
    store.dispose()


@pytest.fixture
def sqlite_catalog(tmp_path):
    store = Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    yield store
    store.dispose()


@pytest.fixture
def data_env(tmp_path, monkeypatch):
    """A fresh GLIMMR_DATA_DIR and DAGSTER_HOME for this test, as a user would set them."""
    data_dir = tmp_path / "data"
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("GLIMMR_DATA_DIR", str(data_dir))
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.delenv("GLIMMR_CATALOG_URL", raising=False)
    monkeypatch.delenv("GLIMMR_TEST_MODE", raising=False)
    return data_dir


@pytest.fixture
def sandbox():
    """The bundled PRA sandbox on a free loopback port: a 64-hospital world, all session schemes."""
    from glimmr_dagster.sandbox import SandboxServer, SandboxWorld

    with SandboxServer(SandboxWorld(seed=11), port=0) as server:
        yield server


@pytest.fixture
def sandbox_env(sandbox, data_env, monkeypatch):
    """A data directory whose configuration points at the sandbox, as `make demo` sets it up."""
    monkeypatch.setenv("GLIMMR_PRA_API_URL", sandbox.url)
    monkeypatch.setenv("GLIMMR_PRA_STORAGE_URL", sandbox.storage_url)
    monkeypatch.setenv("GLIMMR_PRA_RATE_LIMIT", "1000/60")
    monkeypatch.delenv("GLIMMR_PRA_SESSION_ID", raising=False)
    return sandbox


@pytest.fixture
def s3_env(monkeypatch):
    """A real S3 API (moto's server) on loopback, a bucket `glimmr`, and the environment that
    points the project at it. Yields a boto3 client for assertions."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        for name, value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                            "GLIMMR_S3_REGION": "us-east-1", "GLIMMR_S3_ENDPOINT_URL": endpoint}.items():
            monkeypatch.setenv(name, value)
        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        client.create_bucket(Bucket="glimmr")
        yield client
    finally:
        server.stop()
