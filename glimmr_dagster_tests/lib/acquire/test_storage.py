"""Content-addressed raw storage: local directory and S3 (a real S3 server on loopback)."""

from __future__ import annotations

import hashlib
import os
import time

import pytest

from glimmr_dagster.lib.acquire import Kind, LocalRawStore, S3RawStore, object_key, raw_store_from_environment


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write(store, data: bytes, kind: Kind = Kind.CSV, pieces: int = 3, resume_key: str | None = None):
    with store.open_writer(resume_key) as writer:
        step = max(len(data) // pieces, 1)
        for start in range(0, len(data), step):
            writer.write(data[start:start + step])
        return writer.commit(kind)


# --- local ---------------------------------------------------------------------------------------


def test_local_commit_stores_under_the_content_hash(local_store):
    data = b"description,code\nMRI,70551\n" * 1000
    stored = _write(local_store, data)
    sha = _sha(data)
    assert (stored.sha256, stored.size, stored.kind, stored.already_present) == (sha, len(data), Kind.CSV, False)
    path = local_store.root / sha[:2] / f"{sha}.csv"
    assert path.read_bytes() == data and local_store.local_path(sha, Kind.CSV) == path
    assert stored.uri == path.as_uri() and local_store.exists(sha, Kind.CSV)
    with local_store.open_reader(sha, Kind.CSV) as reader:
        assert reader.read() == data
    assert local_store.partial_files() == []
    # The same bytes again: nothing new is written, and the caller learns they were known.
    assert _write(local_store, data).already_present


def test_local_abort_leaves_nothing_under_a_final_name(local_store):
    with pytest.raises(RuntimeError), local_store.open_writer() as writer:
        writer.write(b"half a file")
        raise RuntimeError("the connection broke")
    assert list(local_store.root.glob("??/*")) == []
    assert local_store.partial_files() == []


def test_local_partial_survives_for_the_next_run_and_is_rehashed(local_store):
    data = os.urandom(3 * 1024 * 1024 + 17)
    writer = local_store.open_writer("some-url-key")
    writer.set_resume_info({"url": "https://h.example/x.csv", "validator": '"v1"'})
    writer.write(data[:2_000_000])
    writer.abort()  # a failed attempt: the partial and its note stay
    assert len(local_store.partial_files()) == 1

    again = local_store.open_writer("some-url-key")
    assert again.resumed_from_disk and again.bytes_written == 2_000_000
    assert again.resume_info == {"url": "https://h.example/x.csv", "validator": '"v1"'}
    assert again.head == data[:64 * 1024]
    again.write(data[2_000_000:])
    stored = again.commit(Kind.CSV)
    assert stored.sha256 == _sha(data)
    assert local_store.partial_files() == []


def test_local_partial_without_a_note_is_not_trusted(local_store):
    writer = local_store.open_writer("key")
    writer.set_resume_info({"url": "u", "validator": '"v"'})
    writer.write(b"bytes of unknown origin")
    writer.abort()
    [partial] = local_store.partial_files()
    partial.with_suffix(".json").unlink()  # the note about where the bytes came from is lost
    again = local_store.open_writer("key")
    assert not again.resumed_from_disk and again.bytes_written == 0
    again.abort(discard=True)
    assert local_store.partial_files() == []

    unnoted = local_store.open_writer("other")
    unnoted.write(b"no note was ever written")
    unnoted.abort()  # nothing to resume from: not kept
    assert local_store.partial_files() == []


def test_a_partial_in_use_is_not_shared(local_store):
    first = local_store.open_writer("same-url")
    second = local_store.open_writer("same-url")  # another fetch of the URL at the same time
    assert first.path != second.path
    first.write(b"a" * 10)
    second.write(b"a" * 10)
    assert first.commit(Kind.CSV).sha256 == second.commit(Kind.CSV).sha256


def test_restart_discards_what_was_written(local_store):
    with local_store.open_writer() as writer:
        writer.write(b"old version of the file")
        writer.restart()
        writer.write(b"new")
        stored = writer.commit(Kind.CSV)
    assert stored.sha256 == _sha(b"new") and stored.size == 3


def test_remove_stale_staging(local_store):
    writer = local_store.open_writer("stale")
    writer.set_resume_info({"url": "u", "validator": "v"})
    writer.write(b"x")
    writer.abort()
    [partial] = local_store.partial_files()
    assert local_store.remove_stale_staging(3600) == 0
    old = time.time() - 7200
    for path in partial.parent.iterdir():
        os.utime(path, (old, old))
    assert local_store.remove_stale_staging(3600) == 2  # the bytes and their note
    assert local_store.partial_files() == []


def test_exclusive_serializes_holders(local_store):
    import threading

    inside, overlaps = [], []

    def hold():
        with local_store.exclusive("share-key"):
            inside.append(1)
            overlaps.append(len(inside))
            time.sleep(0.02)
            inside.pop()

    threads = [threading.Thread(target=hold) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert overlaps == [1, 1, 1, 1]


def test_object_key_layout():
    sha = "ab" + "0" * 62
    assert object_key(sha, Kind.GZIP) == f"ab/{sha}.gzip"


def test_store_from_environment(tmp_path, s3_endpoint):
    local = raw_store_from_environment(tmp_path, {})
    assert isinstance(local, LocalRawStore) and local.root == (tmp_path / "raw").resolve()
    elsewhere = raw_store_from_environment(tmp_path, {"GLIMMR_RAW_STORE": str(tmp_path / "big-disk")})
    assert isinstance(elsewhere, LocalRawStore) and elsewhere.root == (tmp_path / "big-disk").resolve()
    s3 = raw_store_from_environment(tmp_path, {
        "GLIMMR_RAW_STORE": "s3://price-files/glimmr/raw", "GLIMMR_S3_ENDPOINT_URL": s3_endpoint,
        "GLIMMR_S3_REGION": "us-east-1",
    })
    assert isinstance(s3, S3RawStore) and (s3.bucket, s3.prefix) == ("price-files", "glimmr/raw")
    assert s3.client.meta.endpoint_url == s3_endpoint
    with pytest.raises(ValueError, match="no bucket"):
        raw_store_from_environment(tmp_path, {"GLIMMR_RAW_STORE": "s3://"})
    with pytest.raises(ValueError):
        raw_store_from_environment(tmp_path, {"GLIMMR_RAW_STORE": "gs://bucket"})


# --- S3 ------------------------------------------------------------------------------------------


def test_s3_small_object_goes_straight_to_its_key(s3_store, s3_client):
    data = b"a,b\n1,2\n"
    stored = _write(s3_store, data)
    sha = _sha(data)
    assert stored.uri == f"s3://{s3_store.bucket}/raw/{sha[:2]}/{sha}.csv"
    body = s3_client.get_object(Bucket=s3_store.bucket, Key=f"raw/{sha[:2]}/{sha}.csv")
    assert body["Body"].read() == data and body["Metadata"]["sha256"] == sha
    assert s3_store.exists(sha, Kind.CSV) and not s3_store.exists(sha, Kind.JSON)
    assert _write(s3_store, data).already_present


def test_s3_large_object_streams_in_parts_and_appears_only_when_complete(s3_store, s3_client):
    data = os.urandom(12 * 1024 * 1024 + 5)  # three 5 MiB parts
    sha = _sha(data)
    with s3_store.open_writer() as writer:
        for start in range(0, len(data), 1024 * 1024):
            writer.write(data[start:start + 1024 * 1024])
        # Mid-stream: parts are uploaded to a staging key, nothing exists under the final key.
        assert not s3_store.exists(sha, Kind.CSV)
        assert len(s3_store.staged_uploads()) == 1
        stored = writer.commit(Kind.CSV)
    assert stored.size == len(data) and stored.sha256 == sha
    with s3_store.open_reader(sha, Kind.CSV) as reader:
        assert reader.read(10) == data[:10]
        reader.seek(len(data) - 100)
        assert reader.read() == data[-100:]
        reader.seek(0)
        assert hashlib.sha256(reader.read()).hexdigest() == sha
    assert s3_store.staged_uploads() == []
    keys = [item["Key"] for item in s3_client.list_objects_v2(Bucket=s3_store.bucket)["Contents"]]
    assert keys == [f"raw/{sha[:2]}/{sha}.csv"]


def test_s3_abort_and_restart_leave_no_upload_behind(s3_store, s3_client):
    data = os.urandom(6 * 1024 * 1024)
    with s3_store.open_writer() as writer:
        writer.write(data)
        writer.restart()
        writer.write(b"the real content")
        stored = writer.commit(Kind.CSV)
    assert stored.sha256 == _sha(b"the real content")
    with s3_store.open_writer() as writer:
        writer.write(data)
    assert s3_store.staged_uploads() == []
    keys = [item["Key"] for item in s3_client.list_objects_v2(Bucket=s3_store.bucket)["Contents"]]
    assert keys == [f"raw/{stored.sha256[:2]}/{stored.sha256}.csv"]


def test_s3_stale_uploads_are_cleared(s3_store):
    writer = s3_store.open_writer()
    writer.write(os.urandom(5 * 1024 * 1024))  # one part: a multipart upload is under way
    writer._io.drain()
    assert len(s3_store.staged_uploads()) == 1  # as a killed run would leave it
    assert s3_store.remove_stale_staging(older_than_seconds=-60) == 1
    assert s3_store.staged_uploads() == []


def test_s3_store_takes_the_client_of_dagster_aws_s3_resource(s3_endpoint, s3_client):
    from dagster_aws.s3 import S3Resource

    s3_client.create_bucket(Bucket="through-dagster-aws")
    client = S3Resource(endpoint_url=s3_endpoint, region_name="us-east-1", aws_access_key_id="glimmr-test",
                        aws_secret_access_key="glimmr-test").get_client()
    store = S3RawStore(client, "through-dagster-aws", "raw")
    stored = _write(store, b"a,b\n1,2\n")
    assert store.exists(stored.sha256, Kind.CSV)
