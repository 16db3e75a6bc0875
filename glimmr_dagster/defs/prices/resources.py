"""Where the Parquet lake lives: the data directory's `lake/`, or S3 through dagster-aws."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
from dagster_aws.s3 import S3Resource

from ...lib.lake import Lake, LocalLake, S3Lake
from ...lib.locations import parse_location
from ..resources import s3_resource_from_environment


class LakeResource(dg.ConfigurableResource):
    """The lake of parsed prices: `prices/state=XX/hospital=KEY/<sha256>.parquet` under `location`.

    `location` is `local` (the data directory's `lake/`), a directory, or `s3://bucket/prefix`.
    """

    location: str = "local"
    data_dir: str
    s3: S3Resource

    def get_lake(self) -> Lake:
        where = parse_location(self.location, what="lake", default_prefix="lake")
        if where.kind == "s3":
            return S3Lake(self.s3.get_client(), where.bucket, where.prefix, work_dir=Path(self.data_dir) / "tmp")
        return LocalLake(where.path or Path(self.data_dir) / "lake")


def build_lake_resource(data_dir: Path) -> LakeResource:
    return LakeResource(
        location=os.environ.get("GLIMMR_LAKE") or "local",
        data_dir=str(data_dir),
        s3=s3_resource_from_environment(),
    )
