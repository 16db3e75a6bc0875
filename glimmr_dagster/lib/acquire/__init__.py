"""Acquiring hospital price files: download, identify, unpack and store them by content hash.

Pure library code (no Dagster). The `hospital_price_files` asset builds one `Downloader` per run
and calls `fetch` once per file; every call returns a `FetchOutcome` (never raises for the
file's own failure), which the asset records in the catalog:

    store = raw_store_from_environment(settings.data_dir)          # GLIMMR_RAW_STORE
    downloader = Downloader(
        DownloadSettings.from_environment([pra.api_url, pra.storage_url]),
        store, on_progress=lambda p: log.info(p.describe()),
    )
    outcome = downloader.fetch(FileRequest(
        url=file.url,
        mirror_url=lambda: pra_client.mirror_url(file),            # only called if the origin fails
        previous=PreviousVersion(etag=..., last_modified=..., url=..., sha256=..., price_file_sha256s=(...)),
        expected_size=file.size, name=file.filename,
        share_key=f"{file.fileid}@{file.signature()}",
    ))
    outcome.status           # downloaded | not_modified | failed
    outcome.unchanged        # 304, same bytes, or the same price files re-zipped
    outcome.price_files      # [(name, sha256, kind, size, archive_path)], each stored by its hash
    outcome.raise_for_failure()   # TransientFetchError (retry later) or PermanentFetchError
"""

from .archive import ArchiveError, ArchiveLimits, PriceFile, SkippedMember, Unpacked, unpack
from .download import (
    DOWNLOADED,
    FAILED,
    MIRROR,
    NOT_MODIFIED,
    ORIGIN,
    Downloader,
    DownloadSettings,
    FetchError,
    FetchOutcome,
    FileRequest,
    HostSlots,
    InMemorySharedDownloads,
    PermanentFetchError,
    PreviousVersion,
    Progress,
    SharedDownloads,
    TransientFetchError,
    content_fingerprint,
)
from .sniff import Kind, describe_body, detect_kind
from .storage import (
    LocalRawStore,
    RawStore,
    RawWriter,
    S3RawStore,
    StorageError,
    StoredObject,
    object_key,
    raw_store_from_environment,
)
from .urlsafety import UnsafeUrlError, UrlPolicy, check_url

__all__ = [
    "DOWNLOADED",
    "FAILED",
    "MIRROR",
    "NOT_MODIFIED",
    "ORIGIN",
    "ArchiveError",
    "ArchiveLimits",
    "DownloadSettings",
    "Downloader",
    "FetchError",
    "FetchOutcome",
    "FileRequest",
    "HostSlots",
    "InMemorySharedDownloads",
    "Kind",
    "LocalRawStore",
    "PermanentFetchError",
    "PreviousVersion",
    "PriceFile",
    "Progress",
    "RawStore",
    "RawWriter",
    "S3RawStore",
    "SharedDownloads",
    "SkippedMember",
    "StorageError",
    "StoredObject",
    "TransientFetchError",
    "Unpacked",
    "UnsafeUrlError",
    "UrlPolicy",
    "check_url",
    "content_fingerprint",
    "describe_body",
    "detect_kind",
    "object_key",
    "raw_store_from_environment",
    "unpack",
]
