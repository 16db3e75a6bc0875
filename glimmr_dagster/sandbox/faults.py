"""Fault switches: the ways real hospital servers and the PRA index misbehave, on demand.

File faults apply per fileid or globally (a per-file setting wins over the global one for the
same switch), on the hospital origin, PRA's mirror, or both:

- `block_library_agents`: 403 for HTTP-library user agents while a browser-like agent works;
- `head_404`: HEAD answers 404 while GET works;
- `fail_first` / `fail_status`: the first N GET attempts answer a 5xx;
- `truncate_at` / `truncate_times`: the response declares the full Content-Length, then the
  connection closes after K body bytes, on every attempt or only the first N;
- `drip_bytes_per_second`: the body trickles out at that rate;
- `gzip`: serve `Content-Encoding: gzip` when the client accepts it.

API faults are global: `empty_session_answers` (every API call answers `[]`/`{}` whatever the
session), `empty_as_object` (empty answers are `{}` even where a list belongs, as the real index
sometimes does) and `api_fail_first` / `api_fail_status` (the next N API calls answer a 5xx).

Attempt counters restart whenever the switches they depend on are set again.
"""

from __future__ import annotations

import re
import threading
from dataclasses import asdict, dataclass, fields
from typing import Any

LIBRARY_AGENT_PATTERN = re.compile(
    r"python-httpx|python-requests|python-urllib|aiohttp|urllib3|httpcore|curl|wget|go-http-client|"
    r"okhttp|java/|apache-httpclient|libwww-perl|httpie|node-fetch|axios|undici|got \(|scrapy|"
    r"powershell|postmanruntime|insomnia|httpclient|rest-client|faraday|ruby|guzzle|dart:io",
    re.IGNORECASE,
)


def is_library_agent(user_agent: str | None) -> bool:
    """True for agents a bot-wary hospital server would turn away: HTTP libraries and no agent.

    Anything that does not present itself as a browser (`Mozilla/...`) counts as a library.
    """
    if not user_agent or not user_agent.strip():
        return True
    if LIBRARY_AGENT_PATTERN.search(user_agent):
        return True
    return "mozilla/" not in user_agent.lower()


SCOPES = ("both", "origin", "mirror")


@dataclass(frozen=True)
class FileFaults:
    block_library_agents: bool = False
    head_404: bool = False
    fail_first: int = 0
    fail_status: int = 503
    truncate_at: int | None = None
    # None: truncate every attempt; N: only the first N attempts.
    truncate_times: int | None = None
    drip_bytes_per_second: int | None = None
    gzip: bool = False
    scope: str = "both"


@dataclass(frozen=True)
class ApiFaults:
    empty_session_answers: bool = False
    # The real index sometimes answers an empty `{}` where a list belongs.
    empty_as_object: bool = False
    api_fail_first: int = 0
    api_fail_status: int = 503


FILE_FAULT_KEYS = frozenset(field.name for field in fields(FileFaults))
API_FAULT_KEYS = frozenset(field.name for field in fields(ApiFaults))
NO_FILE_FAULTS = FileFaults()


def _check_file_changes(changes: dict[str, Any]) -> dict[str, Any]:
    unknown = set(changes) - FILE_FAULT_KEYS
    if unknown:
        raise ValueError(f"unknown fault switch(es): {', '.join(sorted(unknown))}; "
                         f"known: {', '.join(sorted(FILE_FAULT_KEYS | API_FAULT_KEYS | {'moved'}))}")
    checked = dict(changes)
    for key in ("block_library_agents", "head_404", "gzip"):
        if key in checked:
            checked[key] = bool(checked[key])
    for key in ("fail_first",):
        if key in checked:
            checked[key] = max(int(checked[key]), 0)
    for key in ("truncate_at", "truncate_times", "drip_bytes_per_second"):
        if key in checked and checked[key] is not None:
            checked[key] = int(checked[key])
            if checked[key] < (1 if key == "drip_bytes_per_second" else 0):
                raise ValueError(f"{key} must be positive")
    if "fail_status" in checked:
        checked["fail_status"] = int(checked["fail_status"])
        if not 500 <= checked["fail_status"] <= 599:
            raise ValueError("fail_status must be a 5xx status")
    if "scope" in checked and checked["scope"] not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
    return checked


class FaultBook:
    """Current fault switches and the attempt counters that go with them. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._global: dict[str, Any] = {}
        self._per_file: dict[str, dict[str, Any]] = {}
        self._api = ApiFaults()
        self._api_failures_left = 0
        # fileid -> attempts seen since its switches were last set.
        self._get_attempts: dict[str, int] = {}
        self._truncated_attempts: dict[str, int] = {}

    # --- setting -------------------------------------------------------------------------------

    def set(self, fileid: str | None = None, **changes: Any) -> dict[str, Any]:
        """Merge switches into one file's faults (or the global ones); returns that layer."""
        api_changes = {key: changes.pop(key) for key in list(changes) if key in API_FAULT_KEYS}
        if api_changes and fileid is not None:
            raise ValueError(f"{', '.join(sorted(api_changes))} can only be set globally")
        checked = _check_file_changes(changes)
        with self._lock:
            if api_changes:
                merged = {**asdict(self._api), **api_changes}
                self._api = ApiFaults(
                    empty_session_answers=bool(merged["empty_session_answers"]),
                    empty_as_object=bool(merged["empty_as_object"]),
                    api_fail_first=max(int(merged["api_fail_first"]), 0),
                    api_fail_status=int(merged["api_fail_status"]),
                )
                if "api_fail_first" in api_changes:
                    self._api_failures_left = self._api.api_fail_first
            if fileid is None:
                self._global.update(checked)
                if checked:
                    self._get_attempts.clear()
                    self._truncated_attempts.clear()
                return self._layer_view(None)
            self._per_file.setdefault(fileid, {}).update(checked)
            self._get_attempts.pop(fileid, None)
            self._truncated_attempts.pop(fileid, None)
            return self._layer_view(fileid)

    def clear(self, fileid: str | None = None, *, everything: bool = False) -> None:
        """Clear one file's faults, or the global ones, or (everything=True) all of them."""
        with self._lock:
            if everything:
                self._global.clear()
                self._per_file.clear()
                self._api = ApiFaults()
                self._api_failures_left = 0
                self._get_attempts.clear()
                self._truncated_attempts.clear()
            elif fileid is None:
                self._global.clear()
                self._api = ApiFaults()
                self._api_failures_left = 0
                self._get_attempts.clear()
                self._truncated_attempts.clear()
            else:
                self._per_file.pop(fileid, None)
                self._get_attempts.pop(fileid, None)
                self._truncated_attempts.pop(fileid, None)

    # --- reading -------------------------------------------------------------------------------

    def _layer_view(self, fileid: str | None) -> dict[str, Any]:
        if fileid is None:
            return {**self._global, **asdict(self._api)}
        return dict(self._per_file.get(fileid, {}))

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "global": self._layer_view(None),
                "files": {fileid: dict(layer) for fileid, layer in self._per_file.items()},
            }

    def effective(self, fileid: str, where: str) -> FileFaults:
        """The switches that apply to a request for `fileid` on the origin or the mirror."""
        with self._lock:
            merged: dict[str, Any] = {}
            for layer in (self._global, self._per_file.get(fileid, {})):
                if layer and layer.get("scope", "both") in ("both", where):
                    merged.update(layer)
        if not merged:
            return NO_FILE_FAULTS
        return FileFaults(**merged)

    @property
    def api(self) -> ApiFaults:
        with self._lock:
            return self._api

    # --- counting attempts ---------------------------------------------------------------------

    def take_get_failure(self, fileid: str, faults: FileFaults) -> int | None:
        """Count a GET attempt; the status to fail it with, or None to serve it."""
        if faults.fail_first <= 0:
            return None
        with self._lock:
            attempt = self._get_attempts.get(fileid, 0) + 1
            self._get_attempts[fileid] = attempt
        return faults.fail_status if attempt <= faults.fail_first else None

    def take_truncation(self, fileid: str, faults: FileFaults) -> int | None:
        """Count a body about to be sent; the byte count to stop after, or None to send it all."""
        if faults.truncate_at is None:
            return None
        if faults.truncate_times is None:
            return faults.truncate_at
        with self._lock:
            attempt = self._truncated_attempts.get(fileid, 0) + 1
            self._truncated_attempts[fileid] = attempt
        return faults.truncate_at if attempt <= faults.truncate_times else None

    def take_api_failure(self) -> int | None:
        with self._lock:
            if self._api_failures_left <= 0:
                return None
            self._api_failures_left -= 1
            return self._api.api_fail_status
