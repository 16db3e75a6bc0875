"""A download killed half-way: nothing partial is ever recorded, and the next run completes."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time

from glimmr_dagster.lib.acquire import Downloader, FileRequest, Kind

from .conftest import plain_fileids, served_bytes, settings_for

# The downloading process: what a Dagster run worker does for one file.
CHILD = """
import sys
import boto3
from glimmr_dagster.lib.acquire import Downloader, DownloadSettings, FileRequest, LocalRawStore, S3RawStore

url, where = sys.argv[1], sys.argv[2]
if where.startswith("s3:"):
    _, endpoint, bucket = where.split("|")
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="glimmr-test", aws_secret_access_key="glimmr-test")
    store = S3RawStore(client, bucket, "raw", part_size=5 * 1024 * 1024)
else:
    store = LocalRawStore(where)
with Downloader(DownloadSettings(allowed_hosts=frozenset({"127.0.0.1"})), store) as downloader:
    print(downloader.fetch(FileRequest(url=url)).status, flush=True)
"""


def _start_child(url: str, where: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", CHILD, url, where], stdout=subprocess.PIPE)


def _wait_until(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the download did not get under way"
        time.sleep(0.05)


def test_a_killed_download_is_resumed_by_the_next_run(sandbox, world, local_store):
    fileid = plain_fileids(world)[0]
    expected = served_bytes(world, fileid)
    sandbox.set_fault(fileid, drip_bytes_per_second=max(len(expected) // 8, 1))  # about 8 s
    child = _start_child(sandbox.file_url(fileid), str(local_store.root))

    def partial_size() -> int:
        return sum(path.stat().st_size for path in local_store.partial_files())

    try:
        _wait_until(lambda: partial_size() > len(expected) // 4)
    finally:
        child.kill()
        child.wait()
    assert child.returncode != 0
    # Killed mid-transfer: no object under any final name, only the staged partial.
    assert list(local_store.root.glob("??/*")) == []
    [partial] = local_store.partial_files()
    kept = partial.stat().st_size
    assert 0 < kept < len(expected)

    sandbox.clear_faults(fileid)
    with Downloader(settings_for(sandbox), local_store) as downloader:
        outcome = downloader.fetch(FileRequest(url=sandbox.file_url(fileid)))
    assert outcome.status == "downloaded" and outcome.resumed
    assert outcome.sha256 == hashlib.sha256(expected).hexdigest()
    assert outcome.bytes_transferred == len(expected) - kept
    assert any("found" in note and "interrupted run" in note for note in outcome.notes)
    assert local_store.local_path(outcome.sha256, Kind.CSV).read_bytes() == expected
    assert local_store.partial_files() == []


def test_a_killed_download_into_s3_leaves_no_object_and_the_rerun_completes(sandbox, world, s3_store, s3_endpoint):
    fileid = plain_fileids(world)[0]
    size = 9 * 1024 * 1024
    world.add_large_file(size, fileid=fileid)
    sandbox.set_fault(fileid, drip_bytes_per_second=3 * 1024 * 1024)
    child = _start_child(sandbox.file_url(fileid), f"s3:|{s3_endpoint}|{s3_store.bucket}")

    def first_part_uploaded() -> bool:
        uploads = s3_store.staged_uploads()
        return bool(uploads) and bool(s3_store.client.list_parts(
            Bucket=s3_store.bucket, Key=uploads[0]["Key"], UploadId=uploads[0]["UploadId"]).get("Parts"))

    try:
        _wait_until(first_part_uploaded)
    finally:
        child.kill()
        child.wait()
    listing = s3_store.client.list_objects_v2(Bucket=s3_store.bucket, Prefix="raw/")
    assert listing.get("KeyCount", 0) == 0  # nothing under a content-addressed key
    assert len(s3_store.staged_uploads()) == 1

    sandbox.clear_faults(fileid)
    with Downloader(settings_for(sandbox), s3_store) as downloader:
        outcome = downloader.fetch(FileRequest(url=sandbox.file_url(fileid)))
    assert outcome.status == "downloaded" and outcome.size == size
    assert s3_store.exists(outcome.sha256, Kind.CSV)
    # The killed run's upload is the daily cleanup's to remove.
    assert s3_store.remove_stale_staging(older_than_seconds=-60) == 1
    assert s3_store.staged_uploads() == []
