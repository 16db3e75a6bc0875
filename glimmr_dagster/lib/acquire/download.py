"""Fetching one hospital price file: conditional, streaming, resumable, polite and defensive.

`Downloader.fetch(FileRequest)` returns a `FetchOutcome` and does not raise for a file's own
failures: the caller records every file's outcome and decides what a failure means for the run
(`outcome.raise_for_failure()` turns it into `TransientFetchError` or `PermanentFetchError`).

One fetch, in order:
1. the hospital's own URL; if that fails in any way, PRA's mirror (the resolver is called only
   then, since a `cfu` mirror costs an index request);
2. per URL: every redirect hop is checked against the URL policy (and again at connect time);
   an optional HEAD learns size and validators, and a HEAD that fails is simply skipped;
3. GET with `If-None-Match`/`If-Modified-Since` from the previous version (304: unchanged),
   `Accept-Encoding: identity` (lengths and ranges then count stored bytes), an honest user agent
   and, after a 403, one retry with a browser-like one;
4. the body streams in ~1 MB chunks into the raw store, hashed as it is written; the first bytes
   decide its kind, and an HTML page or an empty body fails the URL with what was received;
5. a body cut short is resumed with `Range` + `If-Range` (also across runs, from the staged
   partial on a local store); timeouts, resets, 429 and 5xx back off exponentially with jitter,
   honouring `Retry-After`;
6. the object is committed under its content hash, and ZIP/gzip wrappers are unpacked into
   content-addressed price files.
"""

from __future__ import annotations

import hashlib
import logging
import os
import posixpath
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Iterator, Protocol
from urllib.parse import unquote, urljoin, urlsplit

import httpcore
import httpx

from ..retry import RETRYABLE_EXCEPTIONS, Backoff, is_retryable_status, parse_retry_after
from .archive import ArchiveError, ArchiveLimits, PriceFile, SkippedMember, unpack
from .sniff import SNIFF_BYTES, Kind, describe_body, detect_kind
from .storage import RawStore, RawWriter, StoredObject
from .urlsafety import GuardedNetworkBackend, UnsafeUrlError, UrlPolicy, parse_allow_hosts

log = logging.getLogger(__name__)

MiB = 1024**2
GiB = 1024**3

USER_AGENT = "glimmr_dagster/0.1 (hospital price-transparency collector; +https://github.com/glimmr-dagster)"
# Some hospital servers turn away anything that does not look like a browser; after a 403 the
# file is asked for once more the way a person's browser would.
BROWSER_USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

DOWNLOADED = "downloaded"
NOT_MODIFIED = "not_modified"
FAILED = "failed"
ORIGIN = "origin"
MIRROR = "mirror"


# ---------------------------------------------------------------------------------------------
# Settings, requests and outcomes


def parse_size(text: str) -> int:
    """Bytes from `"20GB"`, `"512 MiB"`, `"1000000"` (decimal and binary units)."""
    cleaned = text.strip().upper().replace(" ", "")
    units = {"TIB": 1024**4, "GIB": GiB, "MIB": MiB, "KIB": 1024, "TB": 10**12, "GB": 10**9,
             "MB": 10**6, "KB": 10**3, "T": 10**12, "G": 10**9, "M": 10**6, "K": 10**3, "B": 1}
    for unit, factor in units.items():
        if cleaned.endswith(unit) and cleaned[: -len(unit)]:
            return int(float(cleaned[: -len(unit)]) * factor)
    return int(cleaned)


@dataclass(frozen=True)
class DownloadSettings:
    user_agent: str = USER_AGENT
    fallback_user_agent: str = BROWSER_USER_AGENT
    connect_timeout_seconds: float = 20.0
    # Longest silence between two pieces of a body before the attempt counts as failed.
    read_timeout_seconds: float = 120.0
    # A body slower than this over a whole stall window is given up (and resumed later): a
    # server dripping a few bytes a second would otherwise hold a run for days.
    min_bytes_per_second: int = 1024
    stall_window_seconds: float = 60.0
    # Attempts per URL that made no progress; an attempt that moved bytes does not use one up.
    max_attempts: int = 5
    max_resumes: int = 100
    backoff_base_seconds: float = 2.0
    backoff_max_seconds: float = 60.0
    # A Retry-After longer than this ends the fetch as transient: the run-level retry (or the
    # next scheduled scan) comes back later instead of holding a worker idle.
    max_retry_after_seconds: float = 300.0
    max_file_bytes: int = 20 * GiB
    max_redirects: int = 10
    # Concurrent requests to one host from this process (Dagster's pool bounds runs).
    per_host_connections: int = 2
    chunk_bytes: int = MiB
    progress_interval_seconds: float = 5.0
    probe_with_head: bool = True
    # Hosts, addresses or CIDR networks allowed even if private (GLIMMR_ALLOW_HOSTS).
    allowed_hosts: frozenset[str] = frozenset()
    # URLs whose address class (loopback, private) is trusted: the configured PRA hosts.
    trusted_url_kinds: tuple[str, ...] = ()
    archive_limits: ArchiveLimits = field(default_factory=ArchiveLimits)

    @classmethod
    def from_environment(
        cls, pra_urls: tuple[str, ...] | list[str] = (), environ: dict[str, str] | None = None, **overrides: Any
    ) -> "DownloadSettings":
        """Settings from `GLIMMR_*` variables; `pra_urls` are the configured PRA API/storage URLs.

        `GLIMMR_ALLOW_HOSTS` (hosts, addresses, CIDR networks), `GLIMMR_MAX_FILE_SIZE` (e.g.
        `20GB`), `GLIMMR_DOWNLOAD_PER_HOST` (concurrent requests per host in one process),
        `GLIMMR_DOWNLOAD_USER_AGENT` (the honest agent, e.g. with a contact address).
        """
        env = environ if environ is not None else os.environ
        values: dict[str, Any] = {
            "allowed_hosts": frozenset(parse_allow_hosts(env.get("GLIMMR_ALLOW_HOSTS", ""))),
            "trusted_url_kinds": tuple(pra_urls),
        }
        if env.get("GLIMMR_MAX_FILE_SIZE"):
            values["max_file_bytes"] = parse_size(env["GLIMMR_MAX_FILE_SIZE"])
        if env.get("GLIMMR_DOWNLOAD_PER_HOST"):
            values["per_host_connections"] = max(int(env["GLIMMR_DOWNLOAD_PER_HOST"]), 1)
        if env.get("GLIMMR_DOWNLOAD_USER_AGENT"):
            values["user_agent"] = env["GLIMMR_DOWNLOAD_USER_AGENT"]
        values.update(overrides)
        return cls(**values)

    def url_policy(self) -> UrlPolicy:
        return UrlPolicy.build(self.allowed_hosts, self.trusted_url_kinds)


@dataclass(frozen=True)
class PreviousVersion:
    """What the last stored version of the file looked like, for conditional requests."""

    etag: str = ""
    last_modified: str = ""
    # The URL whose validators these are; "" applies them to the hospital's URL. Validators of
    # one server mean nothing to another (a mirror's Last-Modified is when PRA copied the file).
    url: str = ""
    # The raw object's hash, and the hashes of the price files it held (for an archive).
    sha256: str = ""
    price_file_sha256s: tuple[str, ...] = ()


@dataclass(frozen=True)
class FileRequest:
    url: str
    # Called only if the hospital's URL fails; returns PRA's mirror URL or None.
    mirror_url: Callable[[], str | None] | None = None
    previous: PreviousVersion | None = None
    # PRA's `size`: advisory only (compared and noted, never enforced).
    expected_size: int | None = None
    # Overrides the settings' maximum for this file.
    max_bytes: int | None = None
    # The file's name for messages and for a gzip member without a name (default: from the URL).
    name: str = ""
    # Requests with the same key mean the same version of the same file (e.g. fileid + PRA
    # signature): with a `SharedDownloads`, only the first is fetched and the rest reuse it.
    share_key: str = ""

    @property
    def display_name(self) -> str:
        if self.name:
            return self.name
        return posixpath.basename(unquote(urlsplit(self.url).path)) or self.url


@dataclass(frozen=True)
class Progress:
    url: str
    bytes_done: int
    total_bytes: int | None
    bytes_per_second: float
    eta_seconds: float | None
    elapsed_seconds: float

    def describe(self) -> str:
        done = f"{self.bytes_done / MiB:,.1f} MiB"
        if self.total_bytes:
            done += f" of {self.total_bytes / MiB:,.1f} MiB ({100 * self.bytes_done / self.total_bytes:.0f}%)"
        eta = f", ETA {self.eta_seconds:,.0f}s" if self.eta_seconds is not None else ""
        return f"{self.url}: {done} at {self.bytes_per_second / MiB:,.1f} MiB/s{eta}"


@dataclass
class FetchOutcome:
    status: str  # downloaded | not_modified | failed
    request_url: str
    source: str | None = None  # origin | mirror: which one answered
    url: str | None = None  # the URL that answered, before redirects
    final_url: str | None = None  # after redirects
    http_status: int | None = None
    content_type: str | None = None
    content_length: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    kind: Kind | None = None
    raw: StoredObject | None = None
    price_files: list[PriceFile] = field(default_factory=list)
    skipped_members: list[SkippedMember] = field(default_factory=list)
    member_names: list[str] = field(default_factory=list)
    bytes_transferred: int = 0
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    attempts: int = 0
    resumed: bool = False
    user_agent: str | None = None
    error: str | None = None
    # On failure: whether trying again later may succeed (timeouts, 5xx, 429).
    transient: bool = False
    # Short notes on what happened on the way (fallbacks, mismatches), oldest first.
    notes: list[str] = field(default_factory=list)
    # Served by an earlier fetch of the same `share_key`, without touching the network.
    reused: bool = False
    previous: PreviousVersion | None = None

    @property
    def ok(self) -> bool:
        return self.status != FAILED

    @property
    def sha256(self) -> str | None:
        return self.raw.sha256 if self.raw else None

    @property
    def size(self) -> int | None:
        return self.raw.size if self.raw else None

    @property
    def unchanged(self) -> bool:
        """Not modified; or the same bytes as the previous version; or an archive re-packed
        around the same price files (new timestamps make new archive bytes, not new prices)."""
        if self.status == NOT_MODIFIED:
            return True
        previous = self.previous
        if self.status != DOWNLOADED or previous is None:
            return False
        if previous.sha256 and self.sha256 == previous.sha256:
            return True
        return bool(previous.price_file_sha256s) and set(self.content_hashes) == set(previous.price_file_sha256s)

    @property
    def content_hashes(self) -> list[str]:
        """The price files' own hashes: a re-zipped archive of the same files keeps them."""
        return [price_file.sha256 for price_file in self.price_files]

    def raise_for_failure(self) -> None:
        if self.status == FAILED:
            error_type = TransientFetchError if self.transient else PermanentFetchError
            raise error_type(self.error or f"{self.request_url} failed", status=self.http_status)

    def summary(self) -> dict[str, Any]:
        """Plain values, for metadata and logs."""
        return {
            "status": self.status,
            "url": self.url or self.request_url,
            "final_url": self.final_url,
            "source": self.source,
            "http_status": self.http_status,
            "kind": self.kind.value if self.kind else None,
            "sha256": self.sha256,
            "size": self.size,
            "price_files": [f"{p.name} ({p.kind.value}, {p.size:,} bytes)" for p in self.price_files],
            "bytes_transferred": self.bytes_transferred,
            "seconds": round(self.seconds, 3),
            "member_names": self.member_names,
            "skipped_members": [f"{m.name}: {m.reason}" for m in self.skipped_members],
            "attempts": self.attempts,
            "resumed": self.resumed,
            "reused": self.reused,
            "user_agent": self.user_agent,
            "timings": {name: round(value, 3) for name, value in self.timings.items()},
            "error": self.error,
            "notes": self.notes,
        }


def content_fingerprint(sha256s: list[str] | tuple[str, ...] | set[str]) -> str:
    """One hash for a set of price files, independent of order and of the archives around them:
    a data version for a hospital's files that changes only when their content does."""
    return hashlib.sha256("\n".join(sorted(set(sha256s))).encode()).hexdigest()


class FetchError(RuntimeError):
    """A URL could not be fetched; `transient` says whether trying later may help."""

    transient = False

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class TransientFetchError(FetchError):
    transient = True


class PermanentFetchError(FetchError):
    transient = False


class _NotModified(Exception):
    def __init__(self, response: httpx.Response, how: str):
        super().__init__(how)
        self.response = response
        self.how = how


class _Retry(Exception):
    """One attempt failed in a way worth another; `immediately` skips the backoff."""

    def __init__(self, message: str, *, retry_after: float | None = None, immediately: bool = False,
                 status: int | None = None, stalled: bool = False):
        super().__init__(message)
        self.retry_after = retry_after
        self.immediately = immediately
        self.status = status
        # Bytes moved, but too slowly to call it progress.
        self.stalled = stalled


# ---------------------------------------------------------------------------------------------
# Cooperation between fetches


class HostSlots:
    """At most N concurrent requests per remote host, across all threads of the process."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._semaphores: dict[tuple[str, int], threading.BoundedSemaphore] = {}

    @contextmanager
    def slot(self, host: str, limit: int) -> Iterator[float]:
        with self._guard:
            semaphore = self._semaphores.setdefault((host.lower(), limit), threading.BoundedSemaphore(limit))
        began = time.monotonic()
        semaphore.acquire()
        try:
            yield time.monotonic() - began
        finally:
            semaphore.release()


# Every Downloader in the process shares these unless given its own.
PROCESS_HOST_SLOTS = HostSlots()


class SharedDownloads(Protocol):
    """Outcomes of fetches by `share_key`, so a file listed by several hospitals is fetched once."""

    def get(self, key: str) -> FetchOutcome | None: ...

    def put(self, key: str, outcome: FetchOutcome) -> None: ...


class InMemorySharedDownloads:
    def __init__(self) -> None:
        self._outcomes: dict[str, FetchOutcome] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> FetchOutcome | None:
        with self._lock:
            return self._outcomes.get(key)

    def put(self, key: str, outcome: FetchOutcome) -> None:
        with self._lock:
            self._outcomes[key] = outcome


class _ProgressMeter:
    def __init__(self, url: str, callback: Callable[[Progress], None] | None, interval: float):
        self.url, self.callback, self.interval = url, callback, interval
        self.started = time.monotonic()
        self.last_report = self.started
        self.start_bytes: int | None = None

    def update(self, bytes_done: int, total: int | None) -> None:
        if self.callback is None:
            return
        now = time.monotonic()
        if self.start_bytes is None:
            # Bytes resumed from an earlier run do not count toward the rate.
            self.start_bytes = bytes_done
        if now - self.last_report < self.interval:
            return
        self.last_report = now
        elapsed = now - self.started
        rate = (bytes_done - self.start_bytes) / elapsed if elapsed > 0 else 0.0
        eta = (total - bytes_done) / rate if total and rate > 0 else None
        try:
            self.callback(Progress(self.url, bytes_done, total, rate, eta, elapsed))
        except Exception:  # noqa: BLE001 - a reporting problem must not fail the download
            log.exception("progress callback failed")


# ---------------------------------------------------------------------------------------------
# The downloader


def _strong_etag(etag: str | None) -> str | None:
    return etag if etag and not etag.startswith("W/") else None


def resume_key_for(url: str) -> str:
    """Where a URL's partial bytes wait between runs."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:40]


@dataclass
class _Received:
    """What one URL answered, as far as the outcome needs it."""

    url: str
    final_url: str = ""
    status: int | None = None
    content_type: str | None = None
    content_length: int | None = None
    etag: str | None = None
    last_modified: str | None = None


class _UrlFetch:
    """Fetching one URL (origin or mirror) into the store, with retries and resumption."""

    def __init__(self, downloader: "Downloader", request: FileRequest, url: str, source: str,
                 outcome: FetchOutcome):
        self.downloader = downloader
        self.settings = downloader.settings
        self.request = request
        self.url = url
        self.source = source
        self.outcome = outcome
        self.max_bytes = request.max_bytes or self.settings.max_file_bytes
        self.user_agent = self.settings.user_agent
        self.tried_fallback_agent = False
        previous = request.previous
        self.conditional = previous if previous and previous.url in ("", url) and (
            previous.etag or previous.last_modified) else None
        self.received = _Received(url)
        self.resume_validator: str | None = None
        self.total_size: int | None = None
        self.progress = _ProgressMeter(url, downloader.on_progress, self.settings.progress_interval_seconds)
        self.bytes_transferred = 0

    # -- HTTP plumbing ------------------------------------------------------------------------

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {
            "User-Agent": self.user_agent,
            # Lengths and ranges then count the bytes that are stored.
            "Accept-Encoding": "identity",
            "Accept": "*/*",
        }
        if extra:
            headers.update(extra)
        return headers

    def _conditional_headers(self) -> dict[str, str]:
        if self.conditional is None:
            return {}
        headers = {}
        if self.conditional.etag:
            headers["If-None-Match"] = self.conditional.etag
        if self.conditional.last_modified:
            headers["If-Modified-Since"] = self.conditional.last_modified
        return headers

    def _send(self, method: str, headers: dict[str, str]) -> httpx.Response:
        """Send, following redirects by hand so that every hop passes the URL policy."""
        url = self.url
        for _hop in range(self.settings.max_redirects + 1):
            self.downloader.policy.check_url(url)
            request = self.downloader.client.build_request(method, url, headers=headers)
            response = self.downloader.client.send(request, stream=True)
            if response.status_code in REDIRECT_STATUSES and response.headers.get("Location"):
                response.close()
                url = urljoin(url, response.headers["Location"])
                continue
            self.received.final_url = str(response.url)
            return response
        raise PermanentFetchError(f"{self.url}: more than {self.settings.max_redirects} redirects")

    def _note(self, text: str) -> None:
        self.outcome.notes.append(f"{self.source}: {text}")
        log.info("%s %s: %s", self.source, self.url, text)

    # -- HEAD probe ---------------------------------------------------------------------------

    def probe(self) -> None:
        """HEAD: unchanged by validators, or too large, without a GET. Failures are ignored."""
        if not self.settings.probe_with_head:
            return
        try:
            with self.downloader.host_slot(self.url, self.outcome):
                response = self._send("HEAD", self._headers(self._conditional_headers()))
                response.close()
        except (UnsafeUrlError, PermanentFetchError):
            raise
        except httpx.HTTPError as exc:
            self._note(f"HEAD failed ({type(exc).__name__}); using GET")
            return
        status = response.status_code
        if 200 <= status < 300 or status == 304:
            self._record_response(response)
        if status == 304 and self.conditional is not None:
            raise _NotModified(response, "HEAD answered 304 Not Modified")
        if not 200 <= status < 300:
            self._note(f"HEAD answered HTTP {status}; using GET")
            return
        etag = _strong_etag(response.headers.get("ETag"))
        if self.conditional is not None and etag and etag == _strong_etag(self.conditional.etag):
            raise _NotModified(response, "HEAD shows the previous version's ETag")
        length = _int_header(response, "Content-Length")
        self.received.content_length = length
        if length is not None and length > self.max_bytes:
            raise PermanentFetchError(
                f"{self.url} is {length:,} bytes (HEAD), more than the maximum file size of {self.max_bytes:,}",
                status=status,
            )

    # -- GET with retries -----------------------------------------------------------------------

    def download(self) -> tuple[StoredObject, bool]:
        """Stream the body into the store; returns the stored object and whether it resumed."""
        settings = self.settings
        backoff = Backoff(settings.backoff_base_seconds, settings.backoff_max_seconds, settings.max_attempts,
                          settings.max_retry_after_seconds)
        writer = self.downloader.store.open_writer(resume_key=resume_key_for(self.url))
        resumed = False
        with writer:
            if writer.resumed_from_disk:
                info = writer.resume_info
                self.resume_validator = info.get("validator")
                if info.get("url") != self.url or not self.resume_validator:
                    writer.restart()
                else:
                    self._note(f"found {writer.bytes_written:,} bytes from an interrupted run")
            failures = 0
            resumes = 0
            last_problem = ""
            while True:
                before = writer.bytes_written
                self.outcome.attempts += 1
                try:
                    resumed_now = self._attempt(writer)
                    resumed = resumed or resumed_now
                    break
                except _Retry as retry:
                    last_problem = str(retry)
                    # Bytes that moved and can be resumed from are progress, not a failure; a
                    # large file on a flaky server may need many resumptions.
                    moved = writer.bytes_written - before if self.resume_validator else 0
                    progressed = moved > 0 and not retry.stalled
                    if progressed:
                        resumes += 1
                    elif not retry.immediately:
                        failures += 1
                    if failures >= settings.max_attempts or resumes > settings.max_resumes:
                        writer.abort()  # a local partial stays for the next run
                        raise TransientFetchError(
                            f"{self.url}: gave up after {self.outcome.attempts} attempts; last: {last_problem}",
                            status=retry.status,
                        ) from None
                    if retry.retry_after is not None and retry.retry_after > settings.max_retry_after_seconds:
                        writer.abort()
                        raise TransientFetchError(
                            f"{self.url}: {last_problem}; the server asks to come back in "
                            f"{retry.retry_after:,.0f}s", status=retry.status, retry_after=retry.retry_after,
                        ) from None
                    if retry.immediately or moved >= MiB:
                        delay = 0.0
                    else:
                        delay = backoff.delay(max(failures - 1, 0), retry.retry_after)
                    self._note(f"{last_problem}; {'resuming' if progressed else 'retrying'}"
                               + (f" in {delay:.1f}s" if delay else ""))
                    if delay:
                        self.outcome.timings["waiting"] = self.outcome.timings.get("waiting", 0.0) + delay
                        self.downloader.sleep(delay)
                except (PermanentFetchError, UnsafeUrlError):
                    writer.abort(discard=True)
                    raise
                except _NotModified:
                    writer.abort(discard=True)
                    raise
            kind = detect_kind(writer.head)
            try:
                self._refuse_non_data(kind, writer.head)
            except PermanentFetchError:
                writer.abort(discard=True)
                raise
            stored = writer.commit(kind)
        return stored, resumed

    def _attempt(self, writer: RawWriter) -> bool:
        """One GET; returns whether it continued earlier bytes. Raises _Retry to go again."""
        extra: dict[str, str] = {}
        if writer.bytes_written > 0 and not self.resume_validator:
            # Without a validator a range could splice two versions of the file.
            writer.restart()
        resuming = writer.bytes_written > 0
        if resuming:
            extra["Range"] = f"bytes={writer.bytes_written}-"
            extra["If-Range"] = self.resume_validator or ""
        extra.update(self._conditional_headers())
        try:
            with self.downloader.host_slot(self.url, self.outcome):
                response = self._send("GET", self._headers(extra))
                try:
                    return self._receive(response, writer, resuming)
                finally:
                    response.close()
        except RETRYABLE_EXCEPTIONS as exc:
            raise _Retry(f"{type(exc).__name__}: {exc or 'no detail'}") from None

    def _receive(self, response: httpx.Response, writer: RawWriter, resuming: bool) -> bool:
        status = response.status_code
        self._record_response(response)
        if status == 304 and self.conditional is not None:
            raise _NotModified(response, "answered 304 Not Modified")
        if status == 403 and not self.tried_fallback_agent:
            self.tried_fallback_agent = True
            self.user_agent = self.settings.fallback_user_agent
            raise _Retry("HTTP 403 with the collector's user agent; trying a browser-like one", immediately=True,
                         status=status)
        if is_retryable_status(status):
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise _Retry(f"HTTP {status}", retry_after=retry_after, status=status)
        if status == 416 and resuming:
            writer.restart()
            raise _Retry("HTTP 416 for the resumed range; starting over", immediately=True, status=status)
        if not 200 <= status < 300:
            received = describe_body(self._read_some(response))
            suffix = " (also with a browser-like user agent)" if status == 403 else ""
            raise PermanentFetchError(f"{self.url} answered HTTP {status}{suffix} with {received}", status=status)
        if status == 206 and resuming:
            if not self._continues(response, writer.bytes_written):
                writer.restart()
                raise _Retry("the server's range did not continue the partial body; starting over",
                             immediately=True, status=status)
        elif status == 206:
            raise PermanentFetchError(f"{self.url} answered 206 Partial Content to a request for the whole file",
                                      status=status)
        else:
            if resuming:
                # 200 to a ranged request: the file changed (If-Range) or ranges are not served.
                self._note(f"the server sent the whole file again instead of bytes {writer.bytes_written:,}-")
                writer.restart()
            self._start_new_body(response, writer)
        self._stream(response, writer)
        return status == 206

    def _record_response(self, response: httpx.Response) -> None:
        received = self.received
        received.status = response.status_code
        received.content_type = response.headers.get("Content-Type")
        received.etag = response.headers.get("ETag") or received.etag
        received.last_modified = response.headers.get("Last-Modified") or received.last_modified

    def _start_new_body(self, response: httpx.Response, writer: RawWriter) -> None:
        length = _int_header(response, "Content-Length")
        self.received.content_length = length
        self.total_size = length
        if length is not None and length > self.max_bytes:
            raise PermanentFetchError(
                f"{self.url} is {length:,} bytes, more than the maximum file size of {self.max_bytes:,}",
                status=response.status_code,
            )
        if length == 0:
            raise PermanentFetchError(
                f"{self.url} answered HTTP {response.status_code} with an empty body "
                f"(Content-Type {self.received.content_type or 'none'})", status=response.status_code,
            )
        # A strong validator lets a cut-short body continue later with If-Range.
        self.resume_validator = _strong_etag(response.headers.get("ETag")) or response.headers.get("Last-Modified")
        writer.set_resume_info({"url": self.url, "validator": self.resume_validator})

    def _continues(self, response: httpx.Response, offset: int) -> bool:
        content_range = response.headers.get("Content-Range", "")
        try:
            unit, _, spec = content_range.partition(" ")
            span, _, total = spec.partition("/")
            start = int(span.split("-", 1)[0])
        except ValueError:
            return False
        if unit.lower() != "bytes" or start != offset:
            return False
        # A server that ignores If-Range would splice two versions; the validators must agree.
        validator = self.resume_validator or ""
        if validator.startswith('"'):
            etag = _strong_etag(response.headers.get("ETag"))
            if etag and etag != validator:
                return False
        elif validator and response.headers.get("Last-Modified", validator) != validator:
            return False
        if total.isdigit():
            self.total_size = int(total)
            self.received.content_length = int(total)
        return True

    def _stream(self, response: httpx.Response, writer: RawWriter) -> None:
        # Pieces arrive as the socket delivers them; small ones are gathered into ~1 MB writes
        # here rather than by httpx, whose chunker drops what it holds when the connection
        # breaks, and those are exactly the bytes a resumed request continues from.
        buffer = bytearray()
        checked = len(writer.head) >= SNIFF_BYTES
        last_write = window_start = time.monotonic()
        window_bytes = 0
        try:
            for piece in response.iter_raw():
                if time.monotonic() - window_start >= self.settings.stall_window_seconds:
                    rate = window_bytes / (time.monotonic() - window_start)
                    if rate < self.settings.min_bytes_per_second:
                        raise _Retry(f"the body trickles at {rate:,.0f} bytes/s, below the minimum of "
                                     f"{self.settings.min_bytes_per_second:,}", stalled=True)
                    window_start, window_bytes = time.monotonic(), 0
                self.bytes_transferred += len(piece)
                window_bytes += len(piece)
                if not buffer and len(piece) >= self.settings.chunk_bytes // 4:
                    # Large pieces go to the writer as they are: no copy.
                    writer.write(piece)
                else:
                    buffer += piece
                    # A slow drip is written at least every second, so that a killed run
                    # loses little of it.
                    full = len(buffer) >= self.settings.chunk_bytes or time.monotonic() - last_write > 1.0
                    if not full:
                        self.progress.update(writer.bytes_written + len(buffer), self.total_size)
                        continue
                    # Hand the buffer over: the writer's I/O thread may still be reading it.
                    writer.write(buffer)
                    buffer = bytearray()
                last_write = time.monotonic()
                self.progress.update(writer.bytes_written, self.total_size)
                if not checked and len(writer.head) >= SNIFF_BYTES:
                    checked = True
                    # Stop reading an error page now rather than after its last byte.
                    self._refuse_non_data(detect_kind(writer.head), writer.head)
                if writer.bytes_written > self.max_bytes:
                    raise PermanentFetchError(
                        f"{self.url} sent more than the maximum file size of {self.max_bytes:,} bytes",
                        status=response.status_code,
                    )
        finally:
            if buffer:
                writer.write(buffer)

    def _refuse_non_data(self, kind: Kind, head: bytes) -> None:
        if kind in (Kind.HTML, Kind.EMPTY):
            received = self.received
            raise PermanentFetchError(
                f"{self.url} answered HTTP {received.status} (Content-Type {received.content_type or 'none'}) "
                f"with {describe_body(head)}, not a price file",
                status=received.status,
            )

    @staticmethod
    def _read_some(response: httpx.Response, limit: int = 4096) -> bytes:
        data = b""
        try:
            for chunk in response.iter_raw(limit):
                data += chunk
                if len(data) >= limit:
                    break
        except httpx.HTTPError:
            pass
        return data[:limit]


class _LargeReadStream(httpcore.NetworkStream):
    """A connection that reads up to `read_bytes` per call instead of httpcore's 64 KB.

    A multi-GB body read 64 KB at a time spends more time in per-read Python work than in
    copying bytes; a larger read takes whatever the socket holds in one call.
    """

    def __init__(self, inner: httpcore.NetworkStream, read_bytes: int):
        self._inner = inner
        self._read_bytes = read_bytes

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max(max_bytes, self._read_bytes), timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _LargeReadStream(self._inner.start_tls(ssl_context, server_hostname, timeout), self._read_bytes)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _LargeReadBackend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend, read_bytes: int):
        self._inner = inner
        self._read_bytes = read_bytes

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Any = None) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(host, port, timeout=timeout, local_address=local_address,
                                         socket_options=socket_options)
        return _LargeReadStream(stream, self._read_bytes)

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Any = None) -> httpcore.NetworkStream:
        return self._inner.connect_unix_socket(path, timeout=timeout, socket_options=socket_options)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def _int_header(response: httpx.Response, name: str) -> int | None:
    value = response.headers.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


class Downloader:
    """Fetches price files into a raw store. Thread-safe; one per process is enough."""

    def __init__(
        self,
        settings: DownloadSettings,
        store: RawStore,
        *,
        on_progress: Callable[[Progress], None] | None = None,
        shared: SharedDownloads | None = None,
        host_slots: HostSlots | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.settings = settings
        self.store = store
        self.on_progress = on_progress
        self.shared = shared
        self.host_slots = host_slots or PROCESS_HOST_SLOTS
        self.sleep = sleep
        self.policy = settings.url_policy()
        if transport is None:
            transport = httpx.HTTPTransport(retries=0)
            pool = getattr(transport, "_pool", None)
            if isinstance(pool, httpcore.ConnectionPool):
                # Check each address again when connecting, so a name that resolves differently
                # after `check_url` (DNS rebinding) cannot reach a refused address.
                pool._network_backend = _LargeReadBackend(GuardedNetworkBackend(self.policy), settings.chunk_bytes)
        self.client = httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(settings.read_timeout_seconds, connect=settings.connect_timeout_seconds),
            follow_redirects=False,
            trust_env=False,
        )

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> "Downloader":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @contextmanager
    def host_slot(self, url: str, outcome: FetchOutcome) -> Iterator[None]:
        host = urlsplit(url).hostname or ""
        with self.host_slots.slot(host, self.settings.per_host_connections) as waited:
            if waited > 0.01:
                outcome.timings["host_wait"] = outcome.timings.get("host_wait", 0.0) + waited
            yield

    # -- public ---------------------------------------------------------------------------------

    def fetch(self, request: FileRequest) -> FetchOutcome:
        """Fetch one file (origin first, then PRA's mirror); never raises for the file's failures."""
        if not request.share_key or self.shared is None:
            return self._fetch(request)
        with self.store.exclusive("share-" + hashlib.sha256(request.share_key.encode()).hexdigest()[:40]):
            earlier = self.shared.get(request.share_key)
            stored = earlier.raw if earlier is not None else None
            if earlier is not None and stored is not None and self.store.exists(stored.sha256, stored.kind):
                return replace(
                    earlier, reused=True, bytes_transferred=0, seconds=0.0, attempts=0, timings={},
                    notes=[*earlier.notes, f"reused the download shared under {request.share_key!r}"],
                    previous=request.previous,
                )
            outcome = self._fetch(request)
            if outcome.status == DOWNLOADED:
                self.shared.put(request.share_key, outcome)
            return outcome

    def _fetch(self, request: FileRequest) -> FetchOutcome:
        started = time.monotonic()
        outcome = FetchOutcome(status=FAILED, request_url=request.url, previous=request.previous)
        problems: list[str] = []
        error = self._fetch_url(request, request.url, ORIGIN, outcome)
        if error is not None:
            problems.append(f"origin: {error}")
            transient = error.transient
            mirror = None
            if request.mirror_url is not None:
                try:
                    mirror = request.mirror_url()
                except Exception as exc:  # noqa: BLE001 - the index failing is one more reason, not a crash
                    problems.append(f"mirror lookup failed: {exc}")
                    transient = True
                else:
                    if not mirror:
                        problems.append("mirror: PRA lists no copy of this file")
            if mirror and mirror != request.url:
                mirror_error = self._fetch_url(request, mirror, MIRROR, outcome)
                if mirror_error is not None:
                    problems.append(f"mirror: {mirror_error}")
                    transient = transient or mirror_error.transient
                    error = mirror_error
                else:
                    error = None
            if error is None:
                outcome.notes.extend(f"failed first: {problem}" for problem in problems)
            else:
                outcome.status = FAILED
                outcome.error = "; ".join(problems)
                outcome.transient = transient
                if error.status is not None:
                    outcome.http_status = error.status
        outcome.seconds = time.monotonic() - started
        outcome.timings["total"] = outcome.seconds
        if outcome.status == DOWNLOADED and request.expected_size and outcome.size != request.expected_size:
            outcome.notes.append(f"size {outcome.size:,} differs from the index's {request.expected_size:,}")
        return outcome

    def _fetch_url(self, request: FileRequest, url: str, source: str, outcome: FetchOutcome) -> FetchError | None:
        """Fetch from one URL into `outcome`; returns the error instead of raising it."""
        job = _UrlFetch(self, request, url, source, outcome)
        outcome.user_agent = job.user_agent
        try:
            began = time.monotonic()
            job.probe()
            outcome.timings["probe"] = outcome.timings.get("probe", 0.0) + time.monotonic() - began
            began = time.monotonic()
            stored, resumed = job.download()
            outcome.timings["transfer"] = outcome.timings.get("transfer", 0.0) + time.monotonic() - began
        except _NotModified as done:
            self._fill(outcome, job, NOT_MODIFIED)
            outcome.http_status = done.response.status_code
            outcome.notes.append(f"{source}: {done.how}")
            return None
        except UnsafeUrlError as exc:
            outcome.bytes_transferred += job.bytes_transferred
            return PermanentFetchError(str(exc))
        except FetchError as exc:
            outcome.bytes_transferred += job.bytes_transferred
            outcome.user_agent = job.user_agent
            return exc
        except httpx.HTTPError as exc:
            # Errors outside the retryable set (a malformed URL, an unsupported protocol).
            outcome.bytes_transferred += job.bytes_transferred
            return PermanentFetchError(f"{url}: {type(exc).__name__}: {exc}")
        self._fill(outcome, job, DOWNLOADED)
        outcome.raw = stored
        outcome.kind = stored.kind
        outcome.resumed = resumed
        began = time.monotonic()
        try:
            unpacked = unpack(self.store, stored, name=request.display_name, limits=self.settings.archive_limits)
        except ArchiveError as exc:
            outcome.status = FAILED
            return PermanentFetchError(f"{url}: {exc}")
        finally:
            outcome.timings["unpack"] = time.monotonic() - began
        outcome.price_files = unpacked.price_files
        outcome.skipped_members = unpacked.skipped
        outcome.member_names = unpacked.member_names
        return None

    @staticmethod
    def _fill(outcome: FetchOutcome, job: _UrlFetch, status: str) -> None:
        received = job.received
        outcome.status = status
        outcome.source = job.source
        outcome.url = job.url
        outcome.final_url = received.final_url or job.url
        outcome.http_status = received.status
        outcome.content_type = received.content_type
        outcome.content_length = received.content_length
        outcome.etag = received.etag
        outcome.last_modified = received.last_modified
        outcome.user_agent = job.user_agent
        outcome.bytes_transferred += job.bytes_transferred
