"""Acquire one hospital's price files: what to fetch, fetching it, and recording every outcome.

For each listed file that needs work (or every file, when forced):
- another hospital's current copy of the same fileid at the same PRA signature is reused, so a
  file shared across a health system is downloaded once per version;
- otherwise the downloader fetches it (conditionally, from the hospital, then PRA's mirror);
- a 304, identical bytes or the same price files re-zipped confirm the current version (the new
  `retrieved` is recorded, so the change sensor stops asking) and count as unchanged;
- new content becomes the current version; the old rows stay for trends;
- a failure is recorded with its message, and the file waits for its backoff.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Callable

from .acquire import FAILED, Downloader, FetchOutcome, FileRequest, content_fingerprint
from .catalog import Catalog
from .pra.records import FileRecord
from .versions import (
    Version,
    confirm_current,
    current_versions,
    previous_version,
    record_versions,
    shared_versions,
    versions_from_outcome,
)
from .worklist import ListedFile, listed_files, record_acquired, record_attempt_started, record_failed

NEW = "new"
CHANGED = "changed"
UNCHANGED = "unchanged"
REUSED = "reused"


@dataclass
class FileResult:
    fileid: str
    # new | changed | unchanged | failed
    status: str
    url: str
    message: str = ""
    transient: bool = False
    bytes: int = 0
    seconds: float = 0.0
    sha256s: tuple[str, ...] = ()
    # Reused another hospital's copy of the same version instead of downloading.
    reused: bool = False
    source: str = ""

    def describe(self) -> str:
        how = f" from the {self.source}" if self.source else ""
        shared = " (shared copy)" if self.reused else ""
        if self.status == "failed":
            return f"{self.fileid}: FAILED: {self.message}"
        return f"{self.fileid}: {self.status}{how}{shared}, {self.bytes:,} bytes in {self.seconds:.1f} s"


@dataclass
class HospitalAcquisition:
    hospital_key: str
    forced: bool
    listed: int
    results: list[FileResult] = field(default_factory=list)
    current_sha256s: tuple[str, ...] = ()
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(1 for result in self.results if result.status == status)

    @property
    def failures(self) -> list[FileResult]:
        return [result for result in self.results if result.status == "failed"]

    @property
    def files_unchanged(self) -> int:
        """Unchanged after a check, plus files that did not need one."""
        return self.count(UNCHANGED) + self.listed - len(self.results)

    @property
    def landed(self) -> bool:
        """At least one file is in hand (or nothing needed work)."""
        return not self.results or len(self.failures) < len(self.results)

    @property
    def data_version(self) -> str:
        """One hash of the hospital's current price files: changes only when their content does."""
        return content_fingerprint(self.current_sha256s)

    @property
    def bytes(self) -> int:
        return sum(result.bytes for result in self.results)


def _mirror_resolver(listed: ListedFile, mirror_url_for: Callable[[FileRecord], str | None] | None):
    if mirror_url_for is None:
        return None
    record = FileRecord(fileid=listed.fileid, storage=listed.storage, project=listed.project, url=listed.url)
    return lambda: mirror_url_for(record)


def _request(
    listed: ListedFile, previous: list[Version], forced: bool, mirror_url_for
) -> FileRequest:
    prior = previous_version(previous)
    if prior is not None and forced:
        # A forced refresh asks for the full body (validators can be stale on a broken server)
        # but still recognises identical content.
        prior = replace(prior, etag="", last_modified="")
    return FileRequest(
        url=listed.url,
        mirror_url=_mirror_resolver(listed, mirror_url_for),
        previous=prior,
        expected_size=listed.size,
        name=listed.filename,
        share_key=f"{listed.fileid}@{listed.signature}",
    )


def _record_outcome(
    catalog: Catalog, listed: ListedFile, outcome: FetchOutcome, had_version: bool, run_id: str
) -> FileResult:
    key, fileid = listed.hospital_key, listed.fileid
    base = dict(fileid=fileid, url=outcome.final_url or outcome.url or listed.url, bytes=outcome.bytes_transferred,
                seconds=outcome.seconds, source=outcome.source or "", reused=outcome.reused)
    if outcome.status == FAILED:
        message = outcome.error or f"{listed.url} failed"
        record_failed(catalog, key, fileid, message)
        return FileResult(status="failed", message=message, transient=outcome.transient, **base)
    if outcome.unchanged and had_version:
        confirm_current(catalog, key, fileid, signature=listed.signature, retrieved=listed.retrieved)
        record_acquired(catalog, key, fileid, listed.signature)
        return FileResult(status=UNCHANGED, **base)
    versions = versions_from_outcome(key, fileid, outcome, listed.signature)
    if not versions:
        # An archive with no price file in it: the download worked, the file is unusable.
        skipped = "; ".join(f"{m.name}: {m.reason}" for m in outcome.skipped_members) or "no members"
        message = f"{listed.url}: the {outcome.kind.value if outcome.kind else ''} archive holds no price file ({skipped})"
        record_failed(catalog, key, fileid, message)
        return FileResult(status="failed", message=message, **base)
    record_versions(catalog, versions, retrieved=listed.retrieved, run_id=run_id, outcome=outcome)
    record_acquired(catalog, key, fileid, listed.signature)
    return FileResult(status=CHANGED if had_version else NEW, sha256s=tuple(v.sha256 for v in versions), **base)


def acquire_hospital_files(
    catalog: Catalog,
    hospital_key: str,
    downloader: Downloader,
    *,
    run_id: str,
    forced: bool = False,
    mirror_url_for: Callable[[FileRecord], str | None] | None = None,
    log: Callable[[str], None] = lambda message: None,
) -> HospitalAcquisition:
    began = time.perf_counter()
    files = listed_files(catalog, hospital_key)
    todo = [listed for listed in files if forced or listed.needs_work]
    result = HospitalAcquisition(hospital_key=hospital_key, forced=forced, listed=len(files))
    record_attempt_started(catalog, hospital_key, [listed.fileid for listed in todo], run_id=run_id)
    current = current_versions(catalog, hospital_key)
    for listed in todo:
        had_version = bool(current.get(listed.fileid))
        shared = [] if forced else shared_versions(
            catalog, listed.fileid, listed.signature, exclude_hospital=hospital_key
        )
        if shared:
            mine = [replace(version, hospital_key=hospital_key) for version in shared]
            unchanged = had_version and {v.sha256 for v in mine} == {v.sha256 for v in current[listed.fileid]}
            if unchanged:
                confirm_current(catalog, hospital_key, listed.fileid, signature=listed.signature,
                                retrieved=listed.retrieved)
            else:
                record_versions(catalog, mine, retrieved=listed.retrieved, run_id=run_id)
            record_acquired(catalog, hospital_key, listed.fileid, listed.signature)
            file_result = FileResult(
                fileid=listed.fileid, status=UNCHANGED if unchanged else (CHANGED if had_version else NEW),
                url=shared[0].url, reused=True, source=shared[0].source, sha256s=tuple(v.sha256 for v in mine),
            )
        else:
            outcome = downloader.fetch(_request(listed, current.get(listed.fileid, []), forced, mirror_url_for))
            file_result = _record_outcome(catalog, listed, outcome, had_version, run_id)
        result.results.append(file_result)
        log(file_result.describe())
    result.current_sha256s = tuple(
        version.sha256 for versions in current_versions(catalog, hospital_key).values() for version in versions
    )
    result.seconds = time.perf_counter() - began
    return result
