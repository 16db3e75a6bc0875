"""Where a store lives, as users write it: `local`, a directory, or `s3://bucket/prefix`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class StorageLocation:
    # local (the data directory's default folder) | directory | s3
    kind: str
    path: Path | None = None
    bucket: str = ""
    prefix: str = ""


def parse_location(text: str, *, what: str, default_prefix: str) -> StorageLocation:
    location = (text or "local").strip()
    if location.lower() == "local":
        return StorageLocation("local")
    if location.lower().startswith("s3://"):
        bucket, _, prefix = location[5:].partition("/")
        if not bucket:
            raise ValueError(f"{what} {location!r} names no bucket; use s3://bucket/prefix")
        return StorageLocation("s3", bucket=bucket, prefix=prefix.strip("/") or default_prefix)
    if "://" in location:
        raise ValueError(f"{what} {location!r}: use 'local', a directory, or s3://bucket/prefix")
    return StorageLocation("directory", path=Path(location).expanduser())
