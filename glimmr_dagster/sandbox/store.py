"""Builds file contents on demand and keeps recent ones in bounded memory.

A national world lists thousands of files; holding all their bytes would cost hundreds of MB,
so only sizes (one int per file version) are kept for good, and bytes live in an LRU cache
bounded by total size. Streaming contents (multi-GB files) hold only their block template and
are cached by count.
"""

from __future__ import annotations

import gzip
import threading
from collections import OrderedDict

from .content import BytesContent, Content, ContentSpec, build_content, get_format

DEFAULT_CACHE_BYTES = 64 * 1024 * 1024
DEFAULT_CACHED_STREAMS = 4


class _BoundedCache:
    """An LRU of values with a cost; evicts the least recently used past `max_cost`."""

    def __init__(self, max_cost: int):
        self.max_cost = max_cost
        self._items: OrderedDict[object, tuple[object, int]] = OrderedDict()
        self._cost = 0
        self._lock = threading.Lock()

    def get(self, key: object) -> object | None:
        with self._lock:
            entry = self._items.get(key)
            if entry is None:
                return None
            self._items.move_to_end(key)
            return entry[0]

    def put(self, key: object, value: object, cost: int) -> None:
        if cost > self.max_cost:
            return
        with self._lock:
            previous = self._items.pop(key, None)
            if previous is not None:
                self._cost -= previous[1]
            self._items[key] = (value, cost)
            self._cost += cost
            while self._cost > self.max_cost and self._items:
                _, (_, evicted_cost) = self._items.popitem(last=False)
                self._cost -= evicted_cost

    @property
    def cost(self) -> int:
        with self._lock:
            return self._cost

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


class ContentStore:
    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES, max_streams: int = DEFAULT_CACHED_STREAMS):
        self._bytes = _BoundedCache(max_bytes)
        self._streams = _BoundedCache(max_streams)
        self._sizes: dict[ContentSpec, int] = {}
        self._sizes_lock = threading.Lock()

    @staticmethod
    def _key(spec: ContentSpec, encoding: str) -> tuple[str, int, str, str, str]:
        return (spec.fileid, spec.version, spec.format_name, spec.inner_format, encoding)

    def content(self, spec: ContentSpec) -> Content:
        if get_format(spec.format_name).streaming:
            key = self._key(spec, "stream")
            cached = self._streams.get(key)
            if cached is None:
                cached = build_content(spec)
                self._streams.put(key, cached, 1)
            return cached  # type: ignore[return-value]
        key = self._key(spec, "identity")
        cached = self._bytes.get(key)
        if cached is None:
            cached = build_content(spec)
            self._bytes.put(key, cached, cached.size)
            with self._sizes_lock:
                self._sizes[spec] = cached.size
        return cached  # type: ignore[return-value]

    def size(self, spec: ContentSpec) -> int:
        """The exact byte size, rendering the file once if it was never rendered."""
        if spec.target_size is not None and get_format(spec.format_name).streaming:
            return spec.target_size
        with self._sizes_lock:
            known = self._sizes.get(spec)
        if known is not None:
            return known
        return self.content(spec).size

    def gzipped(self, spec: ContentSpec) -> BytesContent:
        """The gzip-encoded bytes of a rendered file (a representation with its own size)."""
        key = self._key(spec, "gzip")
        cached = self._bytes.get(key)
        if cached is None:
            # mtime=0 keeps the encoded bytes, and so their ETag, identical across restarts.
            cached = BytesContent(gzip.compress(self.content(spec).read_all(), compresslevel=6, mtime=0))
            self._bytes.put(key, cached, cached.size)
        return cached  # type: ignore[return-value]

    def stats(self) -> dict[str, int]:
        return {
            "cached_bytes": self._bytes.cost,
            "cached_entries": len(self._bytes),
            "cached_streams": len(self._streams),
            "known_sizes": len(self._sizes),
        }
