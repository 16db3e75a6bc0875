"""Helpers shared by the benchmarks: timing, peak memory, the sandbox in a child process."""

from __future__ import annotations

import resource
import socket
import sys
import time
from contextlib import contextmanager
from typing import Iterator


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def timed() -> Iterator[dict]:
    result: dict = {}
    began = time.perf_counter()
    try:
        yield result
    finally:
        result["seconds"] = time.perf_counter() - began


def heading(title: str) -> None:
    print(f"\n== {title}", flush=True)


def row(label: str, value: str) -> None:
    print(f"  {label:<44} {value}", flush=True)


def python() -> str:
    return sys.executable
