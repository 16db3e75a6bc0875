"""Fixtures for acquisition tests: the sandbox on loopback, raw stores, a real S3 server."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import boto3
import pytest

from glimmr_dagster.lib.acquire import Downloader, DownloadSettings, LocalRawStore, S3RawStore
from glimmr_dagster.sandbox import SandboxServer, SandboxWorld
from glimmr_dagster.sandbox import wrapped_formats  # noqa: F401 - registers the wrapped formats

SEED = 4242


@pytest.fixture
def world() -> SandboxWorld:
    return SandboxWorld(seed=SEED, hospitals=64)  # enough for files shared by a health system


@pytest.fixture
def sandbox(world: SandboxWorld) -> Iterator[SandboxServer]:
    with SandboxServer(world, port=0) as server:
        yield server


@pytest.fixture
def local_store(tmp_path) -> LocalRawStore:
    return LocalRawStore(tmp_path / "raw")


class Sleeps(list):
    """Stands in for time.sleep: records the backoff delays instead of waiting them out."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def settings_for(sandbox: SandboxServer, **overrides) -> DownloadSettings:
    """Download settings as the project builds them: the sandbox is the configured PRA host."""
    return DownloadSettings(trusted_url_kinds=(sandbox.url, sandbox.storage_url), **overrides)


@pytest.fixture
def downloader(sandbox, local_store, sleeps) -> Iterator[Downloader]:
    with Downloader(settings_for(sandbox), local_store, sleep=sleeps) as client:
        yield client


def plain_fileids(world: SandboxWorld, count: int = 1, *, redirect: bool = False) -> list[str]:
    """Listed files served straight from their origin URL (or, with `redirect`, behind one)."""
    found = [
        fileid for fileid in world.listed_fileids()
        if bool(world.files[fileid].redirect_status) == redirect and not world.files[fileid].is_cfu
    ]
    assert len(found) >= count, "the sandbox world has too few such files"
    return found[:count]


def file_stats(sandbox: SandboxServer, fileid: str, ready=lambda stats: True, timeout: float = 2.0) -> dict:
    """The sandbox's counters for a file, once `ready` holds.

    The server counts a request after its last byte is sent, which can be a moment after the
    client has read it.
    """
    deadline = time.monotonic() + timeout
    stats = sandbox.stats.file(fileid)
    while not ready(stats) and time.monotonic() < deadline:
        time.sleep(0.01)
        stats = sandbox.stats.file(fileid)
    return stats


def served_bytes(world: SandboxWorld, fileid: str) -> bytes:
    hosted, version = world.current_version(fileid)
    return world.store.content(version.spec).read_all()


# --- a real S3 server on loopback ---------------------------------------------------------------


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_client(s3_endpoint):
    return boto3.client(
        "s3", endpoint_url=s3_endpoint, region_name="us-east-1",
        aws_access_key_id="glimmr-test", aws_secret_access_key="glimmr-test",
    )


@pytest.fixture
def s3_store(s3_client) -> S3RawStore:
    bucket = f"raw-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=bucket)
    return S3RawStore(s3_client, bucket, "raw", part_size=5 * 1024 * 1024)
