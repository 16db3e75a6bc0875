"""Content-addressed storage of raw files: `raw/<sha256[:2]>/<sha256>.<kind>`.

An object's name is the SHA-256 of its bytes, so the same bytes are stored once however many
hospitals list them and however often they are fetched, and a name always means the same bytes.

Bodies are streamed into a writer that hashes while it writes. Nothing appears under a final
name until the writer commits, and commit is atomic:
- local: a temporary file in the same filesystem, fsync, then `os.replace` into place;
- S3: a multipart upload to a staging key while streaming; at commit the hash is known and the
  staging object is copied server-side to its content-addressed key (a body smaller than one
  part is put straight to the final key). A killed process leaves at most an unfinished upload
  under the staging prefix, which `remove_stale_staging` (or a bucket lifecycle rule) clears.

A local writer opened with a `resume_key` keeps its bytes in `.staging/resume/` across process
restarts, so a download killed half-way continues where it stopped on the next run.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import queue
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Iterator, Protocol, runtime_checkable

from .sniff import SNIFF_BYTES, Kind

HASH_READ_CHUNK = 1024 * 1024
# How much a local writer lets accumulate before asking the kernel to start writing it out.
WRITEBACK_BYTES = 64 * 1024 * 1024
# S3 multipart parts: 16 MB keeps memory flat (one part filling while the previous one uploads)
# and allows files of up to 160 GB within S3's 10,000-part limit.
S3_PART_SIZE = 16 * 1024 * 1024
STAGING_DIR_NAME = ".staging"


class StorageError(RuntimeError):
    """The raw store could not write or read an object."""


@dataclass(frozen=True)
class StoredObject:
    """A committed raw object."""

    sha256: str
    kind: Kind
    size: int
    uri: str
    # The same bytes were already stored (by an earlier version or another hospital's file).
    already_present: bool = False


def object_key(sha256: str, kind: Kind | str) -> str:
    """The object's path relative to the store root: `<sha[:2]>/<sha>.<kind>`."""
    return f"{sha256[:2]}/{sha256}.{Kind(kind).value}"


@runtime_checkable
class RawWriter(Protocol):
    """A streaming writer that hashes while it writes; use as a context manager."""

    bytes_written: int
    # True when the writer picked up bytes a killed earlier run had left (local stores only).
    resumed_from_disk: bool
    # The first bytes of the object (up to SNIFF_BYTES), for deciding its kind.
    head: bytes

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Append `data`; the writer may still read it after returning, so do not reuse it."""

    def restart(self) -> None:
        """Drop everything written so far (the server sent the whole body again)."""

    @property
    def resume_info(self) -> dict[str, Any]:
        """What the downloader noted about the partial bytes (URL, validators), or {}."""

    def set_resume_info(self, info: dict[str, Any]) -> None: ...

    def commit(self, kind: Kind) -> StoredObject: ...

    def abort(self, *, discard: bool = False) -> None:
        """Forget the bytes. A resumable partial is kept for the next run unless `discard`."""

    def __enter__(self) -> "RawWriter": ...

    def __exit__(self, *exc: Any) -> None: ...


@runtime_checkable
class RawStore(Protocol):
    def open_writer(self, resume_key: str | None = None) -> RawWriter: ...

    def exists(self, sha256: str, kind: Kind) -> bool: ...

    def open_reader(self, sha256: str, kind: Kind) -> BinaryIO:
        """A seekable binary stream of the object (ZIP reading needs to seek)."""

    def uri(self, sha256: str, kind: Kind) -> str: ...

    def local_path(self, sha256: str, kind: Kind) -> Path | None:
        """The object's path when the store is a local directory, else None."""

    def exclusive(self, key: str) -> contextlib.AbstractContextManager[None]:
        """Hold a lock named `key` (across processes where the store can)."""

    def remove_stale_staging(self, older_than_seconds: float) -> int:
        """Delete staging leftovers older than the given age; returns how many."""


class _IoThread:
    """A background thread that runs one stage of a writer (hashing, or writing) in order.

    Receiving from the network, hashing and writing each cost about as much CPU as the others
    on a fast link; done one after another they halve the throughput. hashlib, file writes and
    uploads release the GIL, so the stages overlap on separate cores. At most `depth` chunks
    wait per stage, which bounds the memory held in flight.
    """

    def __init__(self, name: str, depth: int):
        self._name = name
        self._queue: "queue.Queue[tuple[Any, tuple[Any, ...]] | None]" = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        # Started on first use, so a writer that never writes costs no thread.
        self._thread: threading.Thread | None = None
        self._stopped = False

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                if self._error is None:
                    function, args = item
                    function(*args)
            except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread
                self._error = exc
            finally:
                self._queue.task_done()

    def raise_pending(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def submit(self, function: Any, *args: Any) -> None:
        self.raise_pending()
        if self._thread is None:
            if self._stopped:
                raise StorageError("the writer is closed")
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()
        self._queue.put((function, args))

    def drain(self) -> None:
        """Wait until everything submitted is done; raise what failed."""
        self._queue.join()
        self.raise_pending()

    def stop(self) -> None:
        if not self._stopped:
            self._stopped = True
            if self._thread is not None:
                self._queue.put(None)
                self._thread.join()
            self._error = None


class _WriterBase:
    """Hashing, counting and the context-manager protocol shared by the writers.

    Hashing runs on a thread of its own, beside the thread that writes: SHA-256 costs about as
    much CPU as receiving the bytes, and the three overlap on separate cores.
    """

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self._hasher = _IoThread("raw-hasher", depth=8)
        self.bytes_written = 0
        self.resumed_from_disk = False
        self._done = False
        self._head = bytearray()

    @property
    def head(self) -> bytes:
        return bytes(self._head)

    def _account(self, data: bytes | bytearray | memoryview) -> None:
        """Hash, count and keep the first bytes of what is being written."""
        self._hasher.submit(self._hash.update, data)
        self.bytes_written += len(data)
        if len(self._head) < SNIFF_BYTES:
            self._head += data[: SNIFF_BYTES - len(self._head)]

    def _digest(self) -> str:
        self._hasher.drain()
        self._hasher.stop()
        return self._hash.hexdigest()

    def _stop_hashing(self) -> None:
        try:
            self._hasher.drain()
        finally:
            self._hasher.stop()

    def __enter__(self) -> "_WriterBase":
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if not self._done:
            self.abort()

    @property
    def resume_info(self) -> dict[str, Any]:
        return {}

    def set_resume_info(self, info: dict[str, Any]) -> None:
        """Only local writers persist it; elsewhere resuming is within one process."""

    def _reset_hash(self) -> None:
        self._hasher.drain()
        self._hash = hashlib.sha256()
        self.bytes_written = 0
        self._head = bytearray()


# ---------------------------------------------------------------------------------------------
# Local directory


class LocalRawWriter(_WriterBase):
    def __init__(self, store: "LocalRawStore", resume_key: str | None):
        super().__init__()
        self.store = store
        self._meta_path: Path | None = None
        self._info: dict[str, Any] = {}
        self._file: BinaryIO
        self.path: Path
        if not (resume_key and self._open_resumable(resume_key)):
            self.path = store.staging_dir / "tmp" / f"{uuid.uuid4().hex}.part"
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "xb", buffering=0)
        self._io = _IoThread("raw-file-writer", depth=8)
        self._writeback_from = self.bytes_written

    def _open_resumable(self, resume_key: str) -> bool:
        """Open (or create) the partial file for `resume_key`; False if another holds it."""
        directory = self.store.staging_dir / "resume"
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{resume_key}.part"
        # Unbuffered: whatever was handed to write() is in the kernel, so a killed process
        # leaves every byte it received for the next run to resume from.
        handle = open(path, "a+b", buffering=0)
        try:
            # Another process (or thread) fetching the same URL right now: write privately
            # instead of interleaving bytes in one file.
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self.path, self._file = path, handle
        self._meta_path = directory / f"{resume_key}.json"
        try:
            self._info = json.loads(self._meta_path.read_text())
        except (OSError, ValueError):
            self._info = {}
        size = os.fstat(handle.fileno()).st_size
        if size and self._info:
            # Re-hash what an earlier run wrote: hashlib's state cannot be saved, and reading
            # the bytes back costs a fraction of fetching them again.
            handle.seek(0)
            while chunk := handle.read(HASH_READ_CHUNK):
                self._account(chunk)
            self.resumed_from_disk = True
        elif size:
            # Bytes without a note of where they came from cannot be resumed safely.
            handle.truncate(0)
        handle.seek(0, os.SEEK_END)
        return True

    @property
    def resume_info(self) -> dict[str, Any]:
        return dict(self._info)

    def set_resume_info(self, info: dict[str, Any]) -> None:
        self._info = dict(info)
        if self._meta_path is not None:
            temporary = self._meta_path.with_suffix(".json.tmp")
            temporary.write_text(json.dumps(self._info))
            os.replace(temporary, self._meta_path)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._account(data)
        self._io.submit(self._write_file, data)

    def _write_file(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data)
        while view:
            view = view[self._file.write(view):]
        written = self._file.tell()
        if written - self._writeback_from >= WRITEBACK_BYTES:
            # Start writing this stretch to disk now (advice, it does not wait), so that the
            # fsync at commit has little left to do and a multi-GB file does not crowd the
            # page cache. PostgreSQL flushes its writes the same way.
            os.posix_fadvise(self._file.fileno(), self._writeback_from, written - self._writeback_from,
                             os.POSIX_FADV_DONTNEED)
            self._writeback_from = written

    def restart(self) -> None:
        self._io.drain()
        self._file.seek(0)
        self._file.truncate(0)
        self._writeback_from = 0
        self._reset_hash()
        self.resumed_from_disk = False

    def commit(self, kind: Kind) -> StoredObject:
        if self._done:
            raise StorageError("writer already committed or aborted")
        kind = Kind(kind)
        sha = self._digest()
        self._io.drain()
        self._io.stop()
        os.fsync(self._file.fileno())
        final = self.store.root / object_key(sha, kind)
        already = final.exists()
        if already:
            self.path.unlink(missing_ok=True)
        else:
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self.path, final)
            _fsync_directory(final.parent)
        self._file.close()
        self._forget_meta()
        self._done = True
        return StoredObject(sha, kind, self.bytes_written, self.store.uri(sha, kind), already)

    def abort(self, *, discard: bool = False) -> None:
        if self._done:
            return
        self._done = True
        try:
            self._io.drain()
        except OSError:
            discard = True  # a failed write leaves bytes nobody can vouch for
        finally:
            self._io.stop()
            self._stop_hashing()
        keep = self._meta_path is not None and not discard and self.bytes_written > 0 and bool(self._info)
        if keep:
            self._file.close()
            return
        self._file.close()
        self.path.unlink(missing_ok=True)
        self._forget_meta()

    def _forget_meta(self) -> None:
        if self._meta_path is not None:
            self._meta_path.unlink(missing_ok=True)


def _fsync_directory(path: Path) -> None:
    """Make a rename durable: the directory entry is data too."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalRawStore:
    """Raw objects under a local directory (the default: `$GLIMMR_DATA_DIR/raw`)."""

    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()
        # Inside the root so that the final rename never crosses filesystems.
        self.staging_dir = self.root / STAGING_DIR_NAME
        self._thread_locks: dict[str, threading.Lock] = {}
        self._thread_locks_guard = threading.Lock()

    def __repr__(self) -> str:
        return f"LocalRawStore({str(self.root)!r})"

    def open_writer(self, resume_key: str | None = None) -> LocalRawWriter:
        return LocalRawWriter(self, resume_key)

    def local_path(self, sha256: str, kind: Kind) -> Path:
        return self.root / object_key(sha256, kind)

    def exists(self, sha256: str, kind: Kind) -> bool:
        return self.local_path(sha256, kind).is_file()

    def open_reader(self, sha256: str, kind: Kind) -> BinaryIO:
        try:
            return open(self.local_path(sha256, kind), "rb")
        except FileNotFoundError:
            raise StorageError(f"raw object {object_key(sha256, kind)} is not in {self.root}") from None

    def uri(self, sha256: str, kind: Kind) -> str:
        return self.local_path(sha256, kind).as_uri()

    @contextlib.contextmanager
    def exclusive(self, key: str) -> Iterator[None]:
        # flock serializes processes; the thread lock serializes threads of this process
        # before they queue on the file lock.
        with self._thread_locks_guard:
            thread_lock = self._thread_locks.setdefault(key, threading.Lock())
        with thread_lock:
            directory = self.staging_dir / "locks"
            directory.mkdir(parents=True, exist_ok=True)
            with open(directory / f"{key}.lock", "a+b") as handle:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def partial_files(self) -> list[Path]:
        """Staged bytes not (yet) committed: private temporaries and resumable partials."""
        found = []
        for sub in ("tmp", "resume"):
            directory = self.staging_dir / sub
            if directory.is_dir():
                found.extend(sorted(p for p in directory.iterdir() if p.suffix == ".part"))
        return found

    def remove_stale_staging(self, older_than_seconds: float) -> int:
        cutoff = time.time() - older_than_seconds
        removed = 0
        for sub in ("tmp", "resume", "locks"):
            directory = self.staging_dir / sub
            if not directory.is_dir():
                continue
            for path in directory.iterdir():
                try:
                    if path.stat().st_mtime >= cutoff:
                        continue
                    with open(path, "rb") as handle:
                        # A file someone holds a lock on is in use, however old it looks.
                        try:
                            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                        except BlockingIOError:
                            continue
                        path.unlink()
                    removed += 1
                except FileNotFoundError:
                    continue
        return removed


# ---------------------------------------------------------------------------------------------
# S3-compatible object storage


class S3RawWriter(_WriterBase):
    def __init__(self, store: "S3RawStore"):
        super().__init__()
        self.store = store
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._staging_key = f"{store.staging_prefix}{uuid.uuid4().hex}"
        # One part uploads while the next fills: memory stays at about two parts.
        self._io = _IoThread("raw-s3-writer", depth=1)
        self._part_count = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._account(data)
        self._buffer += data
        if len(self._buffer) >= self.store.part_size:
            self._upload_part()

    def _upload_part(self) -> None:
        client = self.store.client
        if self._upload_id is None:
            upload = client.create_multipart_upload(Bucket=self.store.bucket, Key=self._staging_key)
            self._upload_id = upload["UploadId"]
        self._part_count += 1
        part, self._buffer = self._buffer, bytearray()
        self._io.submit(self._send_part, self._upload_id, self._part_count, part)

    def _send_part(self, upload_id: str, number: int, part: bytearray) -> None:
        answer = self.store.client.upload_part(
            Bucket=self.store.bucket, Key=self._staging_key, UploadId=upload_id, PartNumber=number, Body=bytes(part),
        )
        self._parts.append({"PartNumber": number, "ETag": answer["ETag"]})

    def restart(self) -> None:
        self._io.drain()
        self._part_count = 0
        self._abort_upload()
        self._buffer = bytearray()
        self._parts = []
        self._reset_hash()

    def commit(self, kind: Kind) -> StoredObject:
        if self._done:
            raise StorageError("writer already committed or aborted")
        kind = Kind(kind)
        sha = self._digest()
        client, bucket = self.store.client, self.store.bucket
        final_key = self.store.key(sha, kind)
        if self._upload_id is not None and self._buffer:
            self._upload_part()
        self._io.drain()
        self._io.stop()
        already = self.store.exists(sha, kind)
        if already:
            self._abort_upload()
        elif self._upload_id is None:
            # The whole body fits in one part: its hash is known, put it straight into place.
            client.put_object(Bucket=bucket, Key=final_key, Body=bytes(self._buffer), Metadata={"sha256": sha})
        else:
            client.complete_multipart_upload(
                Bucket=bucket, Key=self._staging_key, UploadId=self._upload_id,
                MultipartUpload={"Parts": sorted(self._parts, key=lambda part: part["PartNumber"])},
            )
            self._upload_id = None
            try:
                # A managed copy: server-side, in parts for objects over 5 GB.
                client.copy(
                    {"Bucket": bucket, "Key": self._staging_key}, bucket, final_key,
                    ExtraArgs={"Metadata": {"sha256": sha}, "MetadataDirective": "REPLACE"},
                )
            finally:
                client.delete_object(Bucket=bucket, Key=self._staging_key)
        self._buffer = bytearray()
        self._done = True
        return StoredObject(sha, kind, self.bytes_written, self.store.uri(sha, kind), already)

    def _abort_upload(self) -> None:
        if self._upload_id is not None:
            upload_id, self._upload_id = self._upload_id, None
            with contextlib.suppress(Exception):
                self.store.client.abort_multipart_upload(
                    Bucket=self.store.bucket, Key=self._staging_key, UploadId=upload_id
                )

    def abort(self, *, discard: bool = False) -> None:
        if self._done:
            return
        self._done = True
        self._buffer = bytearray()
        try:
            self._io.drain()
        except Exception:  # noqa: BLE001 - the upload is being thrown away anyway
            pass
        finally:
            self._io.stop()
            self._stop_hashing()
        self._abort_upload()


class S3RangeReader(io.RawIOBase):
    """A seekable read-only view of an S3 object: one ranged GET per contiguous run of reads."""

    def __init__(self, client: Any, bucket: str, key: str, size: int):
        self.client, self.bucket, self.key, self.size = client, bucket, key, size
        self._position = 0
        self._body: Any = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self.size}[whence]
        position = max(base + offset, 0)
        if position != self._position:
            self._close_body()
            self._position = position
        return self._position

    def readinto(self, buffer: Any) -> int:
        if self._position >= self.size or len(buffer) == 0:
            return 0
        if self._body is None:
            self._body = self.client.get_object(
                Bucket=self.bucket, Key=self.key, Range=f"bytes={self._position}-"
            )["Body"]
        data = self._body.read(len(buffer))
        if not data:
            raise StorageError(f"s3://{self.bucket}/{self.key} ended at byte {self._position} of {self.size}")
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)

    def _close_body(self) -> None:
        if self._body is not None:
            with contextlib.suppress(Exception):
                self._body.close()
            self._body = None

    def close(self) -> None:
        self._close_body()
        super().close()


class S3RawStore:
    """Raw objects in an S3-compatible bucket (AWS S3, MinIO, DigitalOcean Spaces, ...)."""

    def __init__(self, client: Any, bucket: str, prefix: str = "raw", *, part_size: int = S3_PART_SIZE):
        if part_size < 5 * 1024 * 1024:
            raise ValueError("S3 multipart parts must be at least 5 MiB")
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.part_size = part_size
        self.staging_prefix = self._join(STAGING_DIR_NAME) + "/"
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def __repr__(self) -> str:
        return f"S3RawStore(s3://{self.bucket}/{self.prefix})"

    def _join(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def key(self, sha256: str, kind: Kind) -> str:
        return self._join(object_key(sha256, kind))

    def open_writer(self, resume_key: str | None = None) -> S3RawWriter:
        # Multipart state and hash live in this process: resuming works within a run, and a
        # killed run starts the file again.
        return S3RawWriter(self)

    def _head(self, sha256: str, kind: Kind) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            return self.client.head_object(Bucket=self.bucket, Key=self.key(sha256, kind))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def exists(self, sha256: str, kind: Kind) -> bool:
        return self._head(sha256, kind) is not None

    def open_reader(self, sha256: str, kind: Kind) -> BinaryIO:
        head = self._head(sha256, kind)
        if head is None:
            raise StorageError(f"raw object {self.uri(sha256, kind)} does not exist")
        raw = S3RangeReader(self.client, self.bucket, self.key(sha256, kind), int(head["ContentLength"]))
        return io.BufferedReader(raw, buffer_size=HASH_READ_CHUNK)  # type: ignore[return-value]

    def uri(self, sha256: str, kind: Kind) -> str:
        return f"s3://{self.bucket}/{self.key(sha256, kind)}"

    def local_path(self, sha256: str, kind: Kind) -> None:
        return None

    @contextlib.contextmanager
    def exclusive(self, key: str) -> Iterator[None]:
        # Object stores have no locks; across processes the worst case is fetching the same
        # bytes twice, which content addressing makes harmless.
        with self._locks_guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            yield

    def staged_uploads(self) -> list[dict[str, Any]]:
        answer = self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=self.staging_prefix)
        return list(answer.get("Uploads", []))

    def remove_stale_staging(self, older_than_seconds: float) -> int:
        cutoff = time.time() - older_than_seconds
        removed = 0
        for upload in self.staged_uploads():
            if upload["Initiated"].timestamp() < cutoff:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
                removed += 1
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.staging_prefix):
            for item in page.get("Contents", []):
                if item["LastModified"].timestamp() < cutoff:
                    self.client.delete_object(Bucket=self.bucket, Key=item["Key"])
                    removed += 1
        return removed


# ---------------------------------------------------------------------------------------------
# Configuration


def raw_store_from_environment(data_dir: str | Path, environ: dict[str, str] | None = None) -> RawStore:
    """The raw store the configuration names.

    `GLIMMR_RAW_STORE`: `local` (default; `<data_dir>/raw`), a directory path, or
    `s3://bucket/prefix`. For S3: `GLIMMR_S3_ENDPOINT_URL` (MinIO, Spaces, ...), `GLIMMR_S3_REGION`,
    and credentials the usual AWS way (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, profiles, roles).
    """
    from ..locations import parse_location  # noqa: PLC0415 - keeps this module's imports light

    env = environ if environ is not None else os.environ
    where = parse_location(env.get("GLIMMR_RAW_STORE") or "local", what="GLIMMR_RAW_STORE", default_prefix="raw")
    if where.kind == "s3":
        import boto3  # noqa: PLC0415 - only S3 deployments need it

        client = boto3.client(
            "s3",
            endpoint_url=env.get("GLIMMR_S3_ENDPOINT_URL") or None,
            region_name=env.get("GLIMMR_S3_REGION") or None,
        )
        return S3RawStore(client, where.bucket, where.prefix)
    return LocalRawStore(where.path or Path(data_dir) / "raw")

