"""Where raw price files are stored: a local directory, or S3-compatible storage via dagster-aws."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
from dagster_aws.s3 import S3Resource

from ...lib.acquire import LocalRawStore, RawStore, S3RawStore
from ...lib.locations import parse_location
from ..resources import s3_resource_from_environment


class RawStoreResource(dg.ConfigurableResource):
    """Content-addressed raw files: `raw/<sha256[:2]>/<sha256>.<kind>` under `location`.

    `location` is `local` (the data directory's `raw/`), a directory, or `s3://bucket/prefix`;
    S3 goes through dagster-aws's `S3Resource`, whose `endpoint_url` points at MinIO or Spaces.
    """

    location: str = "local"
    data_dir: str
    s3: S3Resource

    def get_store(self) -> RawStore:
        where = parse_location(self.location, what="raw store", default_prefix="raw")
        if where.kind == "s3":
            return S3RawStore(self.s3.get_client(), where.bucket, where.prefix)
        return LocalRawStore(where.path or Path(self.data_dir) / "raw")


def build_raw_store_resource(data_dir: Path) -> RawStoreResource:
    return RawStoreResource(
        location=os.environ.get("GLIMMR_RAW_STORE") or "local",
        data_dir=str(data_dir),
        s3=s3_resource_from_environment(),
    )
