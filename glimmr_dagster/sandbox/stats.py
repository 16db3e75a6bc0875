"""Request statistics, so tests can check what a client actually did over the wire.

Counted per route (e.g. `GET /facility/search`), per exact path, and per fileid (requests by
method, statuses, bytes sent, mirror vs origin, and `downloads`: GET responses that sent a body).
Admin calls under `/_sandbox/` are not counted, so reading the statistics does not change them.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class _FileCounters:
    __slots__ = ("requests", "methods", "statuses", "downloads", "bytes_sent", "where")

    def __init__(self) -> None:
        self.requests = 0
        self.methods: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()
        self.downloads = 0
        self.bytes_sent = 0
        self.where: Counter[str] = Counter()

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "get": self.methods.get("GET", 0),
            "head": self.methods.get("HEAD", 0),
            "downloads": self.downloads,
            "bytes_sent": self.bytes_sent,
            "statuses": dict(self.statuses),
            "mirror": self.where.get("mirror", 0),
            "origin": self.where.get("origin", 0),
        }


class RequestStats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with getattr(self, "_lock", threading.Lock()):
            self._total = 0
            self._routes: Counter[str] = Counter()
            self._paths: Counter[str] = Counter()
            self._statuses: Counter[str] = Counter()
            self._files: dict[str, _FileCounters] = {}

    def record(
        self,
        method: str,
        route: str,
        path: str,
        status: int,
        *,
        fileid: str | None = None,
        where: str | None = None,
        bytes_sent: int = 0,
    ) -> None:
        with self._lock:
            self._total += 1
            self._routes[f"{method} {route}"] += 1
            self._paths[f"{method} {path}"] += 1
            self._statuses[str(status)] += 1
            if fileid is not None:
                counters = self._files.get(fileid)
                if counters is None:
                    counters = self._files[fileid] = _FileCounters()
                counters.requests += 1
                counters.methods[method] += 1
                counters.statuses[str(status)] += 1
                counters.bytes_sent += bytes_sent
                if where:
                    counters.where[where] += 1
                if method == "GET" and status in (200, 206) and bytes_sent > 0:
                    counters.downloads += 1

    def file(self, fileid: str) -> dict[str, Any]:
        with self._lock:
            counters = self._files.get(fileid)
            return counters.to_json() if counters else _FileCounters().to_json()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "total": self._total,
                "routes": dict(self._routes),
                "paths": dict(self._paths),
                "statuses": dict(self._statuses),
                "files": {fileid: counters.to_json() for fileid, counters in self._files.items()},
            }
