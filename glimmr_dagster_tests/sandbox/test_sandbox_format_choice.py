"""Choosing a file's format: `publish(..., format=...)`, the admin route, the state-file replay,
`use_format` and the list of formats."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from glimmr_dagster.sandbox import SandboxServer, SandboxWorld, StateFileMismatch
from glimmr_dagster.sandbox.content import get_format
from glimmr_dagster.sandbox.wrapped_formats import use_format

from .conftest import SEED, STATIC_SESSION, listed_files
from .format_checks import check_served

IDENTITY = {"Accept-Encoding": "identity"}


def plain_csv(world: SandboxWorld, version: str = "", *, redirect: bool = False) -> str:
    return next(fileid for fileid, hosted in world.files.items()
                if hosted.format_name.startswith(f"cms-csv-{version}") and not hosted.name_lies
                and hosted.family != "failure" and get_format(hosted.format_name).layout
                and bool(hosted.redirect_status) == redirect and world.facilities_listing(fileid))


def test_formats_route_lists_every_format(client: httpx.Client) -> None:
    formats = {entry["name"]: entry for entry in client.get("/_sandbox/formats").json()["formats"]}
    assert formats["cms-json-3.0"]["family"] == "json"
    assert formats["cms-xlsx-2.2-wide"]["media_type"].endswith("spreadsheetml.sheet")
    assert formats["wrapped-gzip-csv"]["extension"] == "csv.gz"
    assert formats["cms-csv-3.0-tall-large"]["streaming"] is True
    assert "GET /_sandbox/formats" in client.get("/_sandbox/").json()["routes"]
    summary = client.get("/_sandbox/world").json()
    assert set(summary["format_families"]) == {"csv-tall", "csv-wide", "json", "xlsx", "zip", "gzip"}
    assert summary["failing_files"] is False and summary["misnamed_files"] >= 1


def test_publish_with_a_format_over_http(sandbox: SandboxServer, api: httpx.Client) -> None:
    fileid = plain_csv(sandbox.world, redirect=True)
    before = {record["fileid"]: record for record in listed_files(sandbox, api)}
    old_url, old_mirror = before[fileid]["url"], sandbox.mirror_url(fileid)
    answer = api.post("/_sandbox/publish", json={"fileids": [fileid], "format": "cms-json-3.0"}).json()
    [entry] = answer["published"]
    assert (entry["version"], entry["format"]) == (2, "cms-json-3.0") and entry["filename"].endswith(".json")

    after = {record["fileid"]: record for record in listed_files(sandbox, api)}
    record = after[fileid]
    assert record["filesuffix"] == "json" and record["filename"] == entry["filename"]
    assert record["url"] != old_url and record["url"].endswith(".json")
    body = api.get(record["url"], headers=IDENTITY, follow_redirects=True)
    assert body.headers["Content-Type"] == "application/json"
    assert len(body.content) == int(record["size"])
    assert check_served("cms-json-3.0", body.content) == []
    assert api.get(sandbox.mirror_url(fileid), headers=IDENTITY).content == body.content
    # The old name is gone from the hospital's site and from the mirror.
    assert api.get(old_url).status_code == 404 and api.get(old_mirror).status_code == 404
    for other in set(before) - {fileid}:
        assert after[other] == before[other]

    info = api.get(f"/_sandbox/file/{fileid}").json()
    assert [v["format"] for v in info["versions"]] == [sandbox.world.files[fileid].versions[0].spec.format_name,
                                                       "cms-json-3.0"]
    assert api.post("/_sandbox/publish", json={"fileids": [fileid], "format": "no-such-format"}).status_code == 400
    assert api.post("/_sandbox/publish", json={"fileids": [fileid], "format": "cms-csv-3.0-tall-large"}
                    ).status_code == 400
    assert api.post("/_sandbox/publish", json={"fileids": [fileid], "format": 7}).status_code == 400


def test_a_wrapper_keeps_the_hospitals_cms_version_and_layout(world: SandboxWorld) -> None:
    fileid = plain_csv(world, "2.2-wide")
    [entry] = world.publish([fileid], format="wrapped-zip-csv")
    hosted = world.files[fileid]
    assert hosted.current.spec.inner_format == "cms-csv-2.2-wide"
    assert hosted.suffix == "zip" and entry["filename"] == hosted.filename
    assert check_served("wrapped-zip-csv", world.store.content(hosted.current.spec).read_all(),
                        "cms-csv-2.2-wide") == []
    # A republish without a format keeps the wrapper and what it carries.
    world.publish([fileid])
    assert (hosted.format_name, hosted.current.spec.inner_format) == ("wrapped-zip-csv", "cms-csv-2.2-wide")
    # Back to a plain CSV: the name follows.
    world.publish([fileid], format="cms-csv-2.2-wide")
    assert hosted.suffix == "csv" and not hosted.name_lies
    # A failure answers at the name the file has.
    world.publish([fileid], format="hostile-html-page")
    assert hosted.suffix == "csv" and hosted.family == "failure"


def test_publish_a_fraction_in_a_format(world: SandboxWorld) -> None:
    published = world.publish(fraction=0.2, format="cms-xlsx-3.0-tall")
    assert len(published) == round(len(world.listed_fileids()) * 0.2)
    for entry in published:
        hosted = world.files[entry["fileid"]]
        assert hosted.format_name == "cms-xlsx-3.0-tall" and hosted.filename.endswith(".xlsx")
    hosted = world.files[published[0]["fileid"]]
    assert check_served("cms-xlsx-3.0-tall", world.store.content(hosted.current.spec).read_all()) == []


def test_the_state_file_replays_a_format_choice(tmp_path: Path) -> None:
    state_file = tmp_path / "sandbox-state.jsonl"
    world = SandboxWorld(seed=SEED, state_file=state_file)
    to_json, to_gzip = plain_csv(world, "3.0"), plain_csv(world, "2.2")
    world.publish([to_json], format="cms-json-3.0")
    world.publish([to_gzip], format="wrapped-gzip-csv")
    world.publish([to_json])
    records = world.search("", "", "http://sandbox.test")
    contents = {fileid: world.store.content(world.files[fileid].current.spec).read_all()
                for fileid in (to_json, to_gzip)}
    ops = [json.loads(line) for line in state_file.read_text().splitlines()]
    assert [op.get("format") for op in ops[1:]] == ["cms-json-3.0", "wrapped-gzip-csv", None]
    assert "format" not in ops[3]  # a plain republish is logged as before

    restarted = SandboxWorld(seed=SEED, state_file=state_file)
    assert restarted.replayed_ops == 3
    assert restarted.search("", "", "http://sandbox.test") == records
    for fileid, data in contents.items():
        assert restarted.store.content(restarted.files[fileid].current.spec).read_all() == data
    assert restarted.files[to_gzip].filename.endswith(".csv.gz")
    assert restarted.files[to_gzip].current.spec.inner_format == "cms-csv-2.2-" + get_format(
        world.files[to_gzip].versions[0].spec.format_name).layout


def test_failing_files_are_part_of_the_state_files_world(tmp_path: Path) -> None:
    state_file = tmp_path / "state.jsonl"
    SandboxWorld(seed=1, state_file=state_file, failing_files=True)
    assert json.loads(state_file.read_text().splitlines()[0])["failing_files"] is True
    with pytest.raises(StateFileMismatch, match="failing_files"):
        SandboxWorld(seed=1, state_file=state_file)
    SandboxWorld(seed=1, state_file=state_file, failing_files=True)
    # A state file from before failing files existed stands for a world without them.
    old = tmp_path / "old.jsonl"
    old.write_text(json.dumps({"op": "world", "format": 1, "seed": 1, "hospitals": 64}) + "\n")
    SandboxWorld(seed=1, state_file=old)


def test_use_format_replaces_the_current_version_in_place(sandbox: SandboxServer, api: httpx.Client) -> None:
    world = sandbox.world
    fileid = plain_csv(world)
    url, hosted = sandbox.file_url(fileid), world.files[fileid]
    version, old_etag = hosted.current.number, api.head(url).headers["ETag"]
    use_format(world, fileid, "wrapped-zip-bundle")
    assert hosted.current.number == version and sandbox.file_url(fileid) == url
    response = api.get(url, headers=IDENTITY)
    assert response.content.startswith(b"PK\x03\x04") and response.headers["ETag"] != old_etag
    assert check_served("wrapped-zip-bundle", response.content, hosted.current.spec.inner_format) == []
    with pytest.raises(KeyError):
        use_format(world, fileid, "no-such-format")


def test_the_failing_world_serves_its_failures(tmp_path: Path) -> None:
    world = SandboxWorld(seed=2, hospitals=30, failing_files=True)
    with SandboxServer(world, port=0) as sandbox, httpx.Client(headers=STATIC_SESSION) as api:
        served = {}
        for record in listed_files(sandbox, api):
            hosted = world.files[record["fileid"]]
            if hosted.family == "failure":
                response = api.get(record["url"], headers=IDENTITY, follow_redirects=True)
                assert response.status_code == 200 and len(response.content) == int(record["size"])
                served[hosted.format_name] = response
        assert served["hostile-empty"].content == b""
        assert served["hostile-html-page"].headers["Content-Type"].startswith("text/html")
        assert served["hostile-zip-bomb"].content.startswith(b"PK\x03\x04")


def test_a_large_json_file_over_http(sandbox: SandboxServer, api: httpx.Client) -> None:
    size = 2 * 1024 * 1024 + 5
    created = api.post("/_sandbox/large-file", json={"size": size, "state": "OH", "kind": "json"}).json()
    info = api.get(f"/_sandbox/file/{created['fileid']}").json()
    assert info["format"] == "cms-json-3.0-large" and info["filesuffix"] == "json" and info["size"] == size
    assert created["url"].endswith(".json")
    tail = api.get(created["url"], headers={**IDENTITY, "Range": f"bytes={size - 100}-"})
    assert tail.status_code == 206 and tail.content.endswith(b"]}\n") and len(tail.content) == 100
    assert api.post("/_sandbox/large-file", json={"size": size, "kind": "xml"}).status_code == 400
