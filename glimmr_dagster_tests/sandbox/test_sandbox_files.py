"""Serving files from PRA's mirror and hospital origins: validators, ranges, gzip, redirects."""

from __future__ import annotations

import gzip

import httpx
import pytest

from glimmr_dagster.sandbox import SandboxServer, SandboxWorld
from glimmr_dagster.sandbox.http_semantics import accepts_gzip, parse_single_range

from .conftest import listed_files

IDENTITY = {"Accept-Encoding": "identity"}


def plain_file(world: SandboxWorld) -> str:
    """A listed CMS CSV served directly (no redirect)."""
    return next(fileid for fileid, hosted in world.files.items()
                if not hosted.redirect_status and hosted.format_name.startswith("cms-csv-")
                and hosted.family != "failure" and not hosted.name_lies)


def test_mirror_and_origin_serve_the_listed_bytes(sandbox: SandboxServer, api: httpx.Client) -> None:
    records = listed_files(sandbox, api)
    assert len(records) > 50
    for record in records:
        if record["storage"] == "cfu":
            link = api.get(f"/file/link/{record['fileid']}").json()["url"]
            mirror = link if link.startswith("http") else f"{sandbox.storage_url}/{record['project']}/{link}"
        else:
            mirror = f"{sandbox.storage_url}/{record['project']}/{record['storage']}"
        from_mirror = api.get(mirror, headers=IDENTITY)
        from_origin = api.get(record["url"], headers=IDENTITY, follow_redirects=True)
        assert from_mirror.status_code == from_origin.status_code == 200
        assert from_mirror.content == from_origin.content
        assert len(from_mirror.content) == int(record["size"]) == int(from_mirror.headers["Content-Length"])
        assert from_mirror.headers["ETag"] == from_origin.headers["ETag"]


def test_head_reports_what_get_serves(sandbox: SandboxServer, client: httpx.Client) -> None:
    fileid = plain_file(sandbox.world)
    url = sandbox.file_url(fileid)
    head = client.head(url)
    get = client.get(url, headers=IDENTITY)
    assert head.status_code == 200 and head.content == b""
    for name in ("Content-Length", "ETag", "Last-Modified", "Accept-Ranges", "Content-Type"):
        assert head.headers[name] == get.headers[name]
    assert head.headers["Accept-Ranges"] == "bytes"
    assert head.headers["ETag"].startswith('"') and not head.headers["ETag"].startswith("W/")
    assert head.headers["Content-Type"].startswith("text/csv")
    assert int(head.headers["Content-Length"]) == len(get.content)


def test_conditional_requests_answer_304(sandbox: SandboxServer, client: httpx.Client) -> None:
    url = sandbox.file_url(plain_file(sandbox.world))
    first = client.get(url)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    not_modified = client.get(url, headers={"If-None-Match": etag})
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert not_modified.headers["ETag"] == etag
    assert client.get(url, headers={"If-None-Match": f'"other", W/{etag}'}).status_code == 304
    assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
    assert client.get(url, headers={"If-Modified-Since": modified}).status_code == 304
    assert client.get(url, headers={"If-Modified-Since": "Mon, 01 Jan 2024 00:00:00 GMT"}).status_code == 200
    # If-None-Match wins over If-Modified-Since.
    assert client.get(url, headers={"If-None-Match": '"other"', "If-Modified-Since": modified}).status_code == 200


def test_range_requests(sandbox: SandboxServer, client: httpx.Client) -> None:
    url = sandbox.file_url(plain_file(sandbox.world))
    whole = client.get(url, headers=IDENTITY).content
    size = len(whole)
    part = client.get(url, headers={**IDENTITY, "Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.content == whole[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{size}"
    assert part.headers["Content-Length"] == "100"
    assert client.get(url, headers={"Range": f"bytes={size - 10}-"}).content == whole[-10:]
    assert client.get(url, headers={"Range": "bytes=-25"}).content == whole[-25:]
    clipped = client.get(url, headers={"Range": f"bytes={size - 5}-{size + 1000}"})
    assert clipped.status_code == 206 and clipped.content == whole[-5:]
    unsatisfiable = client.get(url, headers={"Range": f"bytes={size}-"})
    assert unsatisfiable.status_code == 416
    assert unsatisfiable.headers["Content-Range"] == f"bytes */{size}"
    # Several ranges are answered with the whole file, as RFC 9110 allows.
    assert client.get(url, headers={"Range": "bytes=0-1,5-6"}).status_code == 200


def test_if_range(sandbox: SandboxServer, client: httpx.Client) -> None:
    url = sandbox.file_url(plain_file(sandbox.world))
    first = client.get(url)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert client.get(url, headers={"Range": "bytes=0-9", "If-Range": etag}).status_code == 206
    assert client.get(url, headers={"Range": "bytes=0-9", "If-Range": modified}).status_code == 206
    stale = client.get(url, headers={"Range": "bytes=0-9", "If-Range": '"stale"'})
    assert stale.status_code == 200 and len(stale.content) == len(first.content)
    # If-Range needs a strong validator.
    assert client.get(url, headers={"Range": "bytes=0-9", "If-Range": f"W/{etag}"}).status_code == 200


def test_gzip_only_when_switched_on_and_accepted(sandbox: SandboxServer, client: httpx.Client) -> None:
    fileid = plain_file(sandbox.world)
    url = sandbox.file_url(fileid)
    raw = client.get(url, headers=IDENTITY)
    assert "Content-Encoding" not in raw.headers
    assert "Content-Encoding" not in client.get(url, headers={"Accept-Encoding": "gzip"}).headers
    sandbox.set_fault(fileid, gzip=True)
    with client.stream("GET", url, headers={"Accept-Encoding": "gzip"}) as encoded:
        compressed = b"".join(encoded.iter_raw())
        assert encoded.headers["Content-Encoding"] == "gzip"
        assert encoded.headers["Vary"] == "Accept-Encoding"
        assert encoded.headers["ETag"] != raw.headers["ETag"]
        assert int(encoded.headers["Content-Length"]) == len(compressed) < len(raw.content)
    assert gzip.decompress(compressed) == raw.content
    assert client.get(url, headers={"Accept-Encoding": "gzip"}).content == raw.content  # httpx decodes it
    not_accepted = client.get(url, headers={"Accept-Encoding": "br, gzip;q=0"})
    assert "Content-Encoding" not in not_accepted.headers and not_accepted.content == raw.content
    # The gzip representation supports ranges over its own bytes.
    with client.stream("GET", url, headers={"Accept-Encoding": "gzip", "Range": "bytes=0-1"}) as part:
        assert part.status_code == 206 and part.headers["Content-Encoding"] == "gzip"
        assert b"".join(part.iter_raw()) == compressed[:2] == b"\x1f\x8b"


def test_origin_redirects(sandbox: SandboxServer, api: httpx.Client) -> None:
    redirected = {301: 0, 302: 0}
    for fileid, hosted in sandbox.world.files.items():
        if not hosted.redirect_status:
            continue
        url = sandbox.file_url(fileid)
        first = api.get(url)
        assert first.status_code == hosted.redirect_status
        assert first.headers["Location"] == sandbox.url + hosted.canonical_path
        followed = api.get(url, follow_redirects=True)
        assert followed.status_code == 200
        assert followed.content == sandbox.world.store.content(hosted.current.spec).read_all()
        redirected[hosted.redirect_status] += 1
    assert redirected[301] >= 1 and redirected[302] >= 1


def test_unknown_files_and_hosts_are_404(sandbox: SandboxServer, client: httpx.Client) -> None:
    assert client.get("/storage/hpt-2025/nothing-here.csv").status_code == 404
    assert client.get("/origin/www.nowhere.example/file.csv").status_code == 404
    assert client.head("/storage/nothing").status_code == 404


def test_hospital_website_pages(sandbox: SandboxServer, api: httpx.Client) -> None:
    record = next(r for r in api.get("/facility/search", params={"searchstate": "TX"}).json() if r["files"])
    home = api.get(record["url"])
    assert home.status_code == 200 and "Price Transparency" in home.text
    listing = api.get(record["url"] + "cms-hpt.txt")
    assert listing.status_code == 200
    assert f"mrf-url: {record['files'][0]['url']}" in listing.text
    assert api.get(record["files"][0]["pageurl"]).status_code == 200


@pytest.mark.parametrize("header, expected", [
    ("bytes=0-0", (0, 1)), ("bytes=5-", (5, 100)), ("bytes=-10", (90, 100)), ("bytes=90-500", (90, 100)),
    ("bytes=0-1,4-5", None), ("items=0-1", None), ("bytes=9-3", None), (None, None),
])
def test_range_parsing(header: str | None, expected: tuple[int, int] | None) -> None:
    assert parse_single_range(header, 100) == expected


@pytest.mark.parametrize("header, expected", [
    ("gzip, deflate", True), ("br;q=1.0, gzip;q=0.5", True), ("gzip;q=0", False), ("identity", False),
    ("*", True), ("", False), (None, False),
])
def test_accept_encoding_parsing(header: str | None, expected: bool) -> None:
    assert accepts_gzip(header) is expected
