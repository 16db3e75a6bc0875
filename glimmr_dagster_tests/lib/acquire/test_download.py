"""Downloads against the sandbox's hospital servers and PRA mirror, faults switched on."""

from __future__ import annotations

import hashlib
import threading

import pytest

from glimmr_dagster.lib.acquire import (
    Downloader,
    FileRequest,
    InMemorySharedDownloads,
    Kind,
    PermanentFetchError,
    PreviousVersion,
    TransientFetchError,
)
from glimmr_dagster.lib.acquire.download import BROWSER_USER_AGENT, USER_AGENT, HostSlots
from glimmr_dagster.sandbox.wrapped_formats import use_format

from .conftest import file_stats, plain_fileids, served_bytes, settings_for


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_plain_download_is_stored_by_content_hash(sandbox, world, downloader, local_store):
    fileid = plain_fileids(world)[0]
    url = sandbox.file_url(fileid)
    outcome = downloader.fetch(FileRequest(url=url, expected_size=len(served_bytes(world, fileid))))
    expected = served_bytes(world, fileid)
    assert outcome.status == "downloaded" and outcome.ok and outcome.error is None
    assert (outcome.source, outcome.url, outcome.final_url, outcome.http_status) == ("origin", url, url, 200)
    assert outcome.sha256 == sha(expected) and outcome.size == len(expected) == outcome.content_length
    assert outcome.kind is Kind.CSV and outcome.content_type.startswith("text/csv")
    assert outcome.etag and outcome.last_modified and outcome.user_agent == USER_AGENT
    assert outcome.attempts == 1 and not outcome.resumed and outcome.bytes_transferred == len(expected)
    assert outcome.notes == []  # the size matched the index's
    [price_file] = outcome.price_files
    assert price_file.sha256 == outcome.sha256 and price_file.name.endswith(".csv")
    assert local_store.local_path(outcome.sha256, Kind.CSV).read_bytes() == expected
    assert local_store.partial_files() == []
    stats = file_stats(sandbox, fileid, lambda s: s["downloads"] >= 1)
    assert (stats["head"], stats["get"], stats["downloads"]) == (1, 1, 1)


def test_a_304_is_unchanged_through_head_or_get(sandbox, world, local_store, sleeps):
    fileid = plain_fileids(world)[0]
    url = sandbox.file_url(fileid)
    for probe in (True, False):
        with Downloader(settings_for(sandbox, probe_with_head=probe), local_store, sleep=sleeps) as client:
            first = client.fetch(FileRequest(url=url))
            previous = PreviousVersion(etag=first.etag, last_modified=first.last_modified, url=url,
                                       sha256=first.sha256)
            again = client.fetch(FileRequest(url=url, previous=previous))
        assert again.status == "not_modified" and again.unchanged and again.http_status == 304
        assert again.raw is None and again.bytes_transferred == 0
    assert file_stats(sandbox, fileid, lambda s: s["statuses"].get("304") == 2)["statuses"]["304"] == 2


def test_validators_of_another_url_are_not_sent(sandbox, world, downloader):
    # The previous version came from the mirror: its validators mean nothing to the origin.
    fileid = plain_fileids(world)[0]
    first = downloader.fetch(FileRequest(url=sandbox.file_url(fileid)))
    previous = PreviousVersion(etag=first.etag, last_modified=first.last_modified,
                               url=sandbox.mirror_url(fileid), sha256=first.sha256)
    again = downloader.fetch(FileRequest(url=sandbox.file_url(fileid), previous=previous))
    assert again.status == "downloaded" and again.unchanged  # same bytes, found by hash


def test_a_new_version_is_downloaded_despite_old_validators(sandbox, world, downloader):
    fileid = plain_fileids(world)[0]
    url = sandbox.file_url(fileid)
    first = downloader.fetch(FileRequest(url=url))
    world.publish([fileid])
    again = downloader.fetch(FileRequest(url=url, previous=PreviousVersion(first.etag, first.last_modified, url,
                                                                           first.sha256)))
    assert again.status == "downloaded" and not again.unchanged
    assert again.sha256 == sha(served_bytes(world, fileid)) != first.sha256


def test_5xx_then_success_backs_off_honouring_retry_after(sandbox, world, downloader, sleeps):
    fileid = plain_fileids(world)[0]
    sandbox.set_fault(fileid, fail_first=2, fail_status=503)
    outcome = downloader.fetch(FileRequest(url=sandbox.file_url(fileid)))
    assert outcome.status == "downloaded" and outcome.attempts == 3
    assert sleeps == [1.0, 1.0]  # the sandbox says Retry-After: 1
    assert sum("HTTP 503" in note for note in outcome.notes) == 2


def test_persistent_5xx_is_a_transient_failure_after_both_sources(sandbox, world, downloader, sleeps):
    fileid = plain_fileids(world)[0]
    sandbox.set_fault(fileid, fail_first=100, fail_status=502)
    outcome = downloader.fetch(FileRequest(url=sandbox.file_url(fileid), mirror_url=lambda: sandbox.mirror_url(fileid)))
    assert outcome.status == "failed" and outcome.transient and outcome.http_status == 502
    assert outcome.error.startswith(f"origin: {sandbox.file_url(fileid)}: gave up after 5 attempts; last: HTTP 502")
    assert "; mirror: " in outcome.error
    assert outcome.attempts == 10 and len(sleeps) == 8
    with pytest.raises(TransientFetchError, match="gave up"):
        outcome.raise_for_failure()


def test_a_long_retry_after_ends_the_fetch_for_a_later_run(sandbox, world, local_store, sleeps):
    fileid = plain_fileids(world)[0]
    sandbox.set_fault(fileid, fail_first=100)
    with Downloader(settings_for(sandbox, max_retry_after_seconds=0.5), local_store, sleep=sleeps) as client:
        outcome = client.fetch(FileRequest(url=sandbox.file_url(fileid)))
    assert outcome.status == "failed" and outcome.transient and "come back in 1s" in outcome.error
    assert sleeps == [] and outcome.attempts == 1


def test_a_403_is_retried_once_with_a_browser_agent(sandbox, world, downloader):
    fileid = plain_fileids(world)[0]
    sandbox.set_fault(fileid, block_library_agents=True)
    outcome = downloader.fetch(FileRequest(url=sandbox.file_url(fileid)))
    assert outcome.status == "downloaded" and outcome.user_agent == BROWSER_USER_AGENT
    assert outcome.sha256 == sha(served_bytes(world, fileid))
    # The HEAD and the first GET.
    assert file_stats(sandbox, fileid, lambda s: s["statuses"].get("403") == 2)["statuses"]["403"] == 2


def test_a_403_for_every_agent_fails_permanently(sandbox, world, local_store):
    fileid = plain_fileids(world)[0]
    sandbox.set_fault(fileid, block_library_agents=True)
    settings = settings_for(sandbox, fallback_user_agent="another-library/1.0")
    with Downloader(settings, local_store) as client:
        outcome = client.fetch(FileRequest(url=sandbox.file_url(fileid)))
    assert outcome.status == "failed" and not outcome.transient and outcome.http_status == 403
    assert "answered HTTP 403 (also with a browser-like user agent) with an HTML page" in outcome.error
    with pytest.raises(PermanentFetchError):
        outcome.raise_for_failure()


def test_head_404_falls_back_to_get(sandbox, world, downloader):
    fileid = plain_fileids(world)[0]
    sandbox.set_fault(fileid, head_404=True)
    outcome = downloader.fetch(FileRequest(url=sandbox.file_url(fileid)))
    assert outcome.status == "downloaded"
    assert "origin: HEAD answered HTTP 404; using GET" in outcome.notes


def test_redirects_are_followed_and_the_final_url_recorded(sandbox, world, downloader):
    fileid = plain_fileids(world, redirect=True)[0]
    url = sandbox.file_url(fileid)
    outcome = downloader.fetch(FileRequest(url=url))
    hosted = world.files[fileid]
    assert outcome.status == "downloaded" and outcome.url == url
    assert outcome.final_url == sandbox.url + hosted.canonical_path != url
    assert outcome.sha256 == sha(served_bytes(world, fileid))


def test_a_moved_file_is_fetched_from_the_mirror_then_found_unchanged_at_its_new_url(sandbox, world, downloader):
    fileid = plain_fileids(world)[0]
    old_url = sandbox.file_url(fileid)
    first = downloader.fetch(FileRequest(url=old_url))
    new_url = sandbox.set_fault(fileid, moved=True)["moved_to"]
    previous = PreviousVersion(first.etag, first.last_modified, old_url, first.sha256)

    from_mirror = downloader.fetch(FileRequest(url=old_url, previous=previous,
                                               mirror_url=lambda: sandbox.mirror_url(fileid)))
    assert from_mirror.status == "downloaded" and from_mirror.source == "mirror"
    assert from_mirror.url == sandbox.mirror_url(fileid) and from_mirror.unchanged
    assert any(note.startswith("failed first: origin: ") and "HTTP 404" in note for note in from_mirror.notes)

    at_new_url = downloader.fetch(FileRequest(url=new_url, previous=previous))
    assert at_new_url.status == "downloaded" and at_new_url.unchanged and at_new_url.source == "origin"


def test_the_mirror_is_asked_only_when_the_origin_fails(sandbox, world, downloader):
    fileid = plain_fileids(world)[0]
    asked = []
    outcome = downloader.fetch(FileRequest(url=sandbox.file_url(fileid),
                                           mirror_url=lambda: asked.append(1) or sandbox.mirror_url(fileid)))
    assert outcome.source == "origin" and asked == []


def test_a_failing_mirror_lookup_is_reported_not_raised(sandbox, downloader):
    def broken_lookup():
        raise RuntimeError("PRA /file/link answered HTTP 500")

    outcome = downloader.fetch(FileRequest(url=sandbox.url + "/origin/nowhere/x.csv", mirror_url=broken_lookup))
    assert outcome.status == "failed" and outcome.transient
    assert "mirror lookup failed: PRA /file/link answered HTTP 500" in outcome.error


def test_a_truncated_body_is_resumed_with_range_and_if_range(sandbox, world, downloader):
    fileid = plain_fileids(world)[0]
    expected = served_bytes(world, fileid)
    sandbox.set_fault(fileid, truncate_at=len(expected) // 3, truncate_times=1)
    outcome = downloader.fetch(FileRequest(url=sandbox.file_url(fileid)))
    assert outcome.status == "downloaded" and outcome.resumed and outcome.attempts == 2
    assert outcome.sha256 == sha(expected) and outcome.bytes_transferred == len(expected)
    assert file_stats(sandbox, fileid, lambda s: "206" in s["statuses"])["statuses"]["206"] == 1


def test_a_body_cut_on_every_attempt_still_completes_piece_by_piece(sandbox, world, downloader):
    fileid = plain_fileids(world)[0]
    expected = served_bytes(world, fileid)
    piece = len(expected) // 4 + 1
    sandbox.set_fault(fileid, truncate_at=piece)
    outcome = downloader.fetch(FileRequest(url=sandbox.file_url(fileid)))
    assert outcome.status == "downloaded" and outcome.sha256 == sha(expected)
    assert outcome.attempts == 4 and outcome.resumed


def test_a_file_changed_between_attempts_starts_over(sandbox, world, local_store):
    fileid = plain_fileids(world)[0]
    sandbox.set_fault(fileid, truncate_at=2000, truncate_times=1)
    published = []

    def publish_while_waiting(seconds: float) -> None:
        # The hospital replaces the file while the downloader waits to resume.
        published.append(world.publish([fileid]))

    with Downloader(settings_for(sandbox), local_store, sleep=publish_while_waiting) as client:
        outcome = client.fetch(FileRequest(url=sandbox.file_url(fileid)))
    assert len(published) == 1 and outcome.status == "downloaded"
    # If-Range no longer matched: the server sent the new version whole, and nothing was spliced.
    assert outcome.sha256 == sha(served_bytes(world, fileid)) and not outcome.resumed
    assert any("sent the whole file again" in note for note in outcome.notes)


def test_server_gzip_is_not_used_when_identity_is_asked(sandbox, world, downloader):
    fileid = plain_fileids(world)[0]
    sandbox.set_fault(fileid, gzip=True)
    outcome = downloader.fetch(FileRequest(url=sandbox.file_url(fileid)))
    assert outcome.kind is Kind.CSV and outcome.sha256 == sha(served_bytes(world, fileid))


def test_a_suffix_that_lies_is_judged_by_the_bytes(sandbox, world, downloader):
    fileid = plain_fileids(world)[0]
    use_format(world, fileid, "wrapped-zip-as-csv")
    url = sandbox.file_url(fileid)
    assert url.endswith(".csv")
    outcome = downloader.fetch(FileRequest(url=url))
    assert outcome.status == "downloaded" and outcome.kind is Kind.ZIP
    [price_file] = outcome.price_files
    assert price_file.kind is Kind.CSV and price_file.sha256 != outcome.sha256


def test_a_zip_with_several_members_keeps_every_price_file(sandbox, world, downloader, local_store):
    fileid = plain_fileids(world)[0]
    use_format(world, fileid, "wrapped-zip-bundle")
    outcome = downloader.fetch(FileRequest(url=sandbox.file_url(fileid), name="bundle.zip"))
    assert outcome.status == "downloaded" and outcome.kind is Kind.ZIP
    assert sorted(p.name for p in outcome.price_files) == sorted(
        [f"{fileid[:8]}_standardcharges_tall.csv", f"{fileid[:8]}_standardcharges_wide.csv"])
    assert {s.reason for s in outcome.skipped_members} == {"a read-me or licence file", "macOS metadata"}
    assert "README.txt" in outcome.member_names and "prices/" in outcome.member_names
    assert all(local_store.exists(p.sha256, p.kind) for p in outcome.price_files)
    assert local_store.exists(outcome.sha256, Kind.ZIP)


def test_a_gzip_file_is_unpacked(sandbox, world, downloader):
    fileid = plain_fileids(world)[0]
    use_format(world, fileid, "wrapped-gzip-csv")
    outcome = downloader.fetch(FileRequest(url=sandbox.file_url(fileid)))
    assert outcome.kind is Kind.GZIP
    assert [p.name for p in outcome.price_files] == [f"{fileid[:8]}_standardcharges.csv"]


def test_an_html_page_fails_the_file_naming_url_status_and_page(sandbox, world, downloader, local_store):
    fileid = plain_fileids(world)[0]
    use_format(world, fileid, "hostile-html-page")
    url = sandbox.file_url(fileid)
    outcome = downloader.fetch(FileRequest(url=url, mirror_url=lambda: sandbox.mirror_url(fileid)))
    assert outcome.status == "failed" and not outcome.transient
    assert outcome.error == (
        f"origin: {url} answered HTTP 200 (Content-Type text/html; charset=utf-8) with an HTML page titled "
        f"'Page Moved | Patient Billing', not a price file; mirror: {sandbox.mirror_url(fileid)} answered HTTP 200 "
        f"(Content-Type text/html; charset=utf-8) with an HTML page titled 'Page Moved | Patient Billing', "
        f"not a price file"
    )
    assert list(local_store.root.glob("??/*")) == [] and local_store.partial_files() == []


def test_an_empty_body_fails_the_file(sandbox, world, downloader):
    fileid = plain_fileids(world)[0]
    use_format(world, fileid, "hostile-empty")
    outcome = downloader.fetch(FileRequest(url=sandbox.file_url(fileid)))
    assert outcome.status == "failed" and "answered HTTP 200 with an empty body" in outcome.error


@pytest.mark.parametrize("format_name, message", [
    ("hostile-zip-slip", "climbs out of the archive with '..'; the archive is refused"),
    ("hostile-zip-bomb", "(zip bomb?)"),
])
def test_hostile_archives_are_refused(sandbox, world, downloader, format_name, message):
    fileid = plain_fileids(world)[0]
    use_format(world, fileid, format_name)
    outcome = downloader.fetch(FileRequest(url=sandbox.file_url(fileid)))
    assert outcome.status == "failed" and not outcome.transient and message in outcome.error
    assert outcome.price_files == []


def test_the_maximum_file_size_is_enforced(sandbox, world, local_store):
    fileid = plain_fileids(world)[0]
    for probe in (True, False):
        with Downloader(settings_for(sandbox, probe_with_head=probe), local_store) as client:
            outcome = client.fetch(FileRequest(url=sandbox.file_url(fileid), max_bytes=1000))
        assert outcome.status == "failed" and "more than the maximum file size of 1,000" in outcome.error
        assert outcome.bytes_transferred == 0  # refused on the declared length, before reading


def test_a_size_unlike_the_index_is_noted_not_enforced(sandbox, world, downloader):
    fileid = plain_fileids(world)[0]
    outcome = downloader.fetch(FileRequest(url=sandbox.file_url(fileid), expected_size=12))
    assert outcome.status == "downloaded"
    assert outcome.notes[-1].endswith("differs from the index's 12")


def test_a_shared_fileid_is_downloaded_once(sandbox, world, local_store):
    [fileid] = world.summary()["shared_files"][:1]
    hospitals = world.facilities_listing(fileid)
    assert len(hospitals) >= 2
    shared = InMemorySharedDownloads()
    outcomes = []
    with Downloader(settings_for(sandbox), local_store, shared=shared) as client:
        threads = [threading.Thread(target=lambda: outcomes.append(client.fetch(
            FileRequest(url=sandbox.file_url(fileid), share_key=f"{fileid}@v1")))) for _ in hospitals]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(outcomes) == len(hospitals)
    assert len({o.sha256 for o in outcomes}) == 1
    assert sorted(o.reused for o in outcomes) == [False] + [True] * (len(hospitals) - 1)
    assert file_stats(sandbox, fileid, lambda s: s["downloads"] >= 1)["downloads"] == 1


def test_progress_is_reported_for_slow_transfers(sandbox, world, local_store):
    fileid = plain_fileids(world)[0]
    size = len(served_bytes(world, fileid))
    sandbox.set_fault(fileid, drip_bytes_per_second=size * 2)  # about half a second
    reports = []
    settings = settings_for(sandbox, progress_interval_seconds=0.1)
    with Downloader(settings, local_store, on_progress=reports.append) as client:
        outcome = client.fetch(FileRequest(url=sandbox.file_url(fileid)))
    assert outcome.status == "downloaded" and reports
    last = reports[-1]
    assert last.total_bytes == size and 0 < last.bytes_done <= size and last.bytes_per_second > 0
    assert last.eta_seconds is not None and "MiB/s" in last.describe()


def test_requests_per_host_are_capped():
    slots = HostSlots()
    active, peak, lock = [0], [0], threading.Lock()

    def request():
        with slots.slot("hospital.example.org", 2):
            with lock:
                active[0] += 1
                peak[0] = max(peak[0], active[0])
            threading.Event().wait(0.02)
            with lock:
                active[0] -= 1

    threads = [threading.Thread(target=request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak[0] == 2


def test_downloads_into_s3(sandbox, world, s3_store, sleeps):
    fileid = plain_fileids(world)[0]
    info = world.add_large_file(12 * 1024 * 1024 + 3, fileid=fileid)  # three 5 MiB parts
    sandbox.set_fault(fileid, truncate_at=7 * 1024 * 1024, truncate_times=1)
    with Downloader(settings_for(sandbox), s3_store, sleep=sleeps) as client:
        outcome = client.fetch(FileRequest(url=sandbox.file_url(fileid)))
    assert outcome.status == "downloaded" and outcome.resumed and outcome.size == info["size"]
    with s3_store.open_reader(outcome.sha256, Kind.CSV) as reader:
        digest = hashlib.sha256()
        while chunk := reader.read(1 << 20):
            digest.update(chunk)
    assert digest.hexdigest() == outcome.sha256 == outcome.price_files[0].sha256
    assert s3_store.staged_uploads() == []


def test_a_trickling_server_is_given_up_for_a_later_run(sandbox, world, local_store, sleeps):
    fileid = plain_fileids(world)[0]
    sandbox.set_fault(fileid, drip_bytes_per_second=2000)
    settings = settings_for(sandbox, min_bytes_per_second=50_000, stall_window_seconds=0.3, max_attempts=2)
    with Downloader(settings, local_store, sleep=sleeps) as client:
        outcome = client.fetch(FileRequest(url=sandbox.file_url(fileid)))
    assert outcome.status == "failed" and outcome.transient
    assert "below the minimum of 50,000" in outcome.error and outcome.attempts == 2


def test_unchanged_covers_same_bytes_and_a_re_packed_archive():
    from glimmr_dagster.lib.acquire import FetchOutcome, PriceFile, StoredObject

    def downloaded(raw_sha: str, members: list[str], previous: PreviousVersion) -> FetchOutcome:
        return FetchOutcome(
            status="downloaded", request_url="https://h.example/p.zip", previous=previous,
            raw=StoredObject(raw_sha, Kind.ZIP, 10, "file:///x"),
            price_files=[PriceFile(f"{m}.csv", m, Kind.CSV, 1, ("p.zip", f"{m}.csv")) for m in members],
        )

    before = PreviousVersion(sha256="zip1", price_file_sha256s=("a", "b"))
    assert downloaded("zip1", ["a", "b"], before).unchanged
    assert downloaded("zip2", ["b", "a"], before).unchanged  # re-zipped, new timestamps
    assert not downloaded("zip3", ["a", "c"], before).unchanged
    assert not downloaded("zip2", ["a", "b"], None).unchanged
    assert FetchOutcome(status="not_modified", request_url="u").unchanged


def test_content_fingerprint_ignores_order_and_wrapping():
    from glimmr_dagster.lib.acquire.download import content_fingerprint

    assert content_fingerprint(["b", "a"]) == content_fingerprint(("a", "b", "a")) != content_fingerprint(["a"])


def test_settings_from_the_environment(sandbox):
    from glimmr_dagster.lib.acquire import DownloadSettings
    from glimmr_dagster.lib.acquire.download import parse_size

    settings = DownloadSettings.from_environment(
        [sandbox.url], {"GLIMMR_ALLOW_HOSTS": "files.internal, 10.0.0.0/8", "GLIMMR_MAX_FILE_SIZE": "2.5GB",
                        "GLIMMR_DOWNLOAD_PER_HOST": "4", "GLIMMR_DOWNLOAD_USER_AGENT": "collector (ops@example.org)"},
        probe_with_head=False,
    )
    assert settings.allowed_hosts == {"files.internal", "10.0.0.0/8"}
    assert settings.max_file_bytes == 2_500_000_000 and settings.per_host_connections == 4
    assert settings.user_agent == "collector (ops@example.org)" and not settings.probe_with_head
    assert settings.url_policy().allowed_classes == {"loopback"}
    assert DownloadSettings.from_environment(environ={}).max_file_bytes == 20 * 1024**3
    assert [parse_size(text) for text in ("512MiB", "1 kb", "7", "3G")] == [512 * 1024**2, 1000, 7, 3 * 10**9]


def test_a_refused_connection_is_retried_then_the_mirror_serves(sandbox, world, downloader, sleeps):
    from glimmr_dagster_tests.services import free_port

    fileid = plain_fileids(world)[0]
    dead_origin = f"http://127.0.0.1:{free_port()}/mrf/prices.csv"  # nothing listens there
    outcome = downloader.fetch(FileRequest(url=dead_origin, mirror_url=lambda: sandbox.mirror_url(fileid)))
    assert outcome.status == "downloaded" and outcome.source == "mirror"
    assert len(sleeps) == 4 and sleeps == sorted(sleeps)  # exponential backoff between the five tries
    assert any("gave up after 5 attempts; last: ConnectError" in note for note in outcome.notes)
