"""A sliding-window rate limit that holds across processes, runs and machines.

Each hospital run is its own process (and on Kubernetes its own pod), so a limit kept in memory
would let N runs send N times the allowed traffic. The window lives in the catalog instead: a
request takes a slot in a short write transaction (serialized by SQLite's write lock or a
PostgreSQL advisory lock) and waits, outside any transaction, when the window is full.
"""

from __future__ import annotations

import threading
import time
import zlib
from typing import Callable, Protocol

import sqlalchemy as sa

from .catalog import Catalog
from .catalog.schema import rate_limit_events
from .settings import RateLimit


class RequestLimiter(Protocol):
    def acquire(self) -> float:
        """Block until a request may be sent; returns the seconds waited."""


class NoLimit:
    def acquire(self) -> float:
        return 0.0


class SharedRateLimiter:
    """At most `limit.requests` acquisitions in any `limit.seconds` window, per bucket."""

    def __init__(
        self,
        catalog: Catalog,
        bucket: str,
        limit: RateLimit,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if not limit.enabled:
            raise ValueError("SharedRateLimiter needs an enabled limit; use NoLimit otherwise")
        self.catalog = catalog
        self.bucket = bucket
        self.limit = limit
        self._clock = clock
        self._sleep = sleep
        # Threads of one process queue here rather than all polling the database.
        self._local = threading.Lock()
        self._pg_lock_key = zlib.crc32(f"glimmr-rate-limit:{bucket}".encode())

    def _try_take_slot(self) -> float:
        """Take a slot and return 0, or return how long until the oldest slot frees up."""
        events = rate_limit_events
        with self.catalog.write() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": self._pg_lock_key})
            # Read the clock only once the lock is held, so slots are taken in time order.
            now = self._clock()
            window_start = now - self.limit.seconds
            conn.execute(
                events.delete().where(events.c.bucket == self.bucket, events.c.at <= window_start)
            )
            used, oldest = conn.execute(
                sa.select(sa.func.count(), sa.func.min(events.c.at)).where(
                    events.c.bucket == self.bucket, events.c.at > window_start
                )
            ).one()
            if used < self.limit.requests:
                conn.execute(events.insert().values(bucket=self.bucket, at=now))
                return 0.0
            return max(oldest + self.limit.seconds - now, 0.001)

    def acquire(self) -> float:
        waited = 0.0
        with self._local:
            while True:
                wait = self._try_take_slot()
                if wait <= 0:
                    return waited
                self._sleep(wait)
                waited += wait
