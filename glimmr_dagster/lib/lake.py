"""The Parquet lake of parsed prices, hive-partitioned by state and hospital.

Layout (local directory or S3, the same keys): `prices/state=XX/hospital=KEY/<sha256>.parquet`.
Every parsed version stays; the catalog says which are current, so a reader of "prices now"
goes through the catalog, never a bare glob of the folder.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator, Protocol


def price_file_key(state: str, hospital_key: str, sha256: str) -> str:
    return f"prices/state={state}/hospital={hospital_key}/{sha256}.parquet"


class Lake(Protocol):
    def uri(self, key: str) -> str: ...

    def exists(self, key: str) -> bool: ...

    def writing(self, key: str) -> contextlib.AbstractContextManager[Path]:
        """A local path to write the object to; it is published under `key` only if the block
        ends without an error (and the writer left a file there)."""


class LocalLake:
    def __init__(self, root: Path):
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalLake({str(self.root)!r})"

    def path(self, key: str) -> Path:
        return self.root / key

    def uri(self, key: str) -> str:
        return str(self.path(key))

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    @contextlib.contextmanager
    def writing(self, key: str) -> Iterator[Path]:
        # The parsers write to a temporary name beside the target and rename it in place.
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        yield target


class S3Lake:
    def __init__(self, client: Any, bucket: str, prefix: str = "lake", *, work_dir: Path | None = None):
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.work_dir = work_dir

    def __repr__(self) -> str:
        return f"S3Lake(s3://{self.bucket}/{self.prefix})"

    def object_key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self.object_key(key)}"

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self.object_key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    @contextlib.contextmanager
    def writing(self, key: str) -> Iterator[Path]:
        if self.work_dir is not None:
            self.work_dir.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix="lake-", dir=self.work_dir))
        try:
            local = folder / Path(key).name
            yield local
            if local.exists():
                # upload_file goes multipart for large files; the object appears only when complete.
                self.client.upload_file(str(local), self.bucket, self.object_key(key))
        finally:
            shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def local_copy(reader_factory, suffix: str, work_dir: Path | None) -> Iterator[Path]:
    """A raw object from a non-local store as a temporary local file (parsers need a path)."""
    if work_dir is not None:
        work_dir.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(prefix="raw-", suffix=f".{suffix}", dir=work_dir, delete=False)
    path = Path(handle.name)
    try:
        with handle, reader_factory() as reader:
            shutil.copyfileobj(reader, handle, length=1024 * 1024)
        yield path
    finally:
        path.unlink(missing_ok=True)
