"""Fixtures for the sandbox tests: a fresh world and a live server on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from glimmr_dagster.sandbox import SandboxServer, SandboxWorld
from glimmr_dagster.sandbox.sessions import DEFAULT_STATIC_SESSION_ID

SEED = 20250101
BROWSER_AGENT = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                 "Chrome/126.0 Safari/537.36")
STATIC_SESSION = {"sessionid": DEFAULT_STATIC_SESSION_ID}


@pytest.fixture
def world() -> SandboxWorld:
    return SandboxWorld(seed=SEED)


@pytest.fixture
def sandbox(world: SandboxWorld) -> Iterator[SandboxServer]:
    with SandboxServer(world, port=0) as server:
        yield server


@pytest.fixture
def client(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.url, timeout=20) as http:
        yield http


@pytest.fixture
def api(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    """A client that sends the static session header on every call."""
    with httpx.Client(base_url=sandbox.url, timeout=20, headers=STATIC_SESSION) as http:
        yield http


def listed_files(sandbox: SandboxServer, api: httpx.Client) -> list[dict]:
    """Every file record the index lists, once per fileid, as a client sees them."""
    records = api.get(f"{sandbox.url}/facility/search", params={"search": "", "searchstate": ""}).json()
    files: dict[str, dict] = {}
    for record in records:
        for file_record in record["files"]:
            files.setdefault(file_record["fileid"], file_record)
    return list(files.values())
