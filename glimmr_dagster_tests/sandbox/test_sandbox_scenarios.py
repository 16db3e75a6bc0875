"""Scenario control over the admin API: publishing, facilities, large files, statistics, persistence."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from glimmr_dagster.sandbox import SandboxServer, SandboxWorld, StateFileMismatch

from .cms_checker import check_cms_csv
from .conftest import SEED, STATIC_SESSION, listed_files
from .format_checks import check_served


def by_fileid(records: list[dict]) -> dict[str, dict]:
    return {record["fileid"]: record for record in records}


def test_health_and_world_summary(sandbox: SandboxServer, client: httpx.Client) -> None:
    health = client.get("/_sandbox/health").json()
    assert health == {"ok": True, "url": sandbox.url, "seed": SEED, "facilities": 64,
                      "files": len(sandbox.world.files)}
    summary = client.get("/_sandbox/world").json()
    assert summary["facilities"] == 64
    assert sum(summary["facilities_by_state"].values()) == 64
    assert summary["server"]["sessions"]["schemes"] == ["static", "user_session", "validate"]
    assert summary["server"]["rate_limit"] == "off"
    assert "GET /_sandbox/stats[?fileid=]" in client.get("/_sandbox/").json()["routes"]
    assert client.get("/_sandbox/nothing").status_code == 404


def test_publish_chosen_files_changes_only_them(sandbox: SandboxServer, api: httpx.Client) -> None:
    before = by_fileid(listed_files(sandbox, api))
    chosen = sorted(before)[:2]
    old_etag = api.head(sandbox.mirror_url(chosen[0])).headers["ETag"]
    published = api.post("/_sandbox/publish", json={"fileids": chosen}).json()["published"]
    assert [entry["fileid"] for entry in published] == chosen
    assert all(entry["version"] == 2 for entry in published)
    after = by_fileid(listed_files(sandbox, api))
    for fileid in chosen:
        assert after[fileid]["retrieved"] != before[fileid]["retrieved"]
        assert after[fileid]["size"] != before[fileid]["size"]
        assert after[fileid]["url"] == before[fileid]["url"]
        body = api.get(sandbox.mirror_url(fileid), headers={"Accept-Encoding": "identity"}).content
        assert len(body) == int(after[fileid]["size"])
        spec = sandbox.world.files[fileid].current.spec
        assert check_served(spec.format_name, body, spec.inner_format) == []
    for fileid in set(before) - set(chosen):
        assert after[fileid] == before[fileid]
    new = api.get(sandbox.mirror_url(chosen[0]), headers={"If-None-Match": old_etag})
    assert new.status_code == 200 and new.headers["ETag"] != old_etag


def test_publish_a_fraction(sandbox: SandboxServer, api: httpx.Client) -> None:
    before = by_fileid(listed_files(sandbox, api))
    published = api.post("/_sandbox/publish", json={"fraction": 0.25, "seed": 3}).json()["published"]
    changed = {entry["fileid"] for entry in published}
    assert len(changed) == round(len(before) * 0.25)
    after = by_fileid(listed_files(sandbox, api))
    assert {fileid for fileid in before if after[fileid] != before[fileid]} == changed
    assert api.post("/_sandbox/publish", json={"fileids": ["nope"]}).status_code == 404
    assert api.post("/_sandbox/publish", json={"fraction": 2}).status_code == 400


def test_add_and_remove_facilities(sandbox: SandboxServer, api: httpx.Client) -> None:
    before = api.get("/facility/search", params={"searchstate": "VT"}).json()
    added = api.post("/_sandbox/facilities", json={"state": "VT", "count": 2}).json()
    assert len(added["added"]) == 2
    assert all(record["state"] == "VT" and len(record["files"]) == 1 for record in added["facilities"])
    after = api.get("/facility/search", params={"searchstate": "VT"}).json()
    assert [record["id"] for record in after] == [record["id"] for record in before] + added["added"]
    new_file = added["facilities"][0]["files"][0]
    spec = sandbox.world.files[new_file["fileid"]].current.spec
    assert check_served(spec.format_name, api.get(new_file["url"], follow_redirects=True).content,
                        spec.inner_format) == []
    removed = api.post("/_sandbox/facilities/remove", json={"ids": [before[0]["id"]]}).json()
    assert removed == {"removed": [before[0]["id"]]}
    assert api.get(f"/facility/id/{before[0]['id']}").json() == []
    assert before[0]["id"] not in {r["id"] for r in api.get("/facility/search", params={"searchstate": "VT"}).json()}
    assert api.delete(f"/_sandbox/facilities/{added['added'][1]}").json() == {"removed": [added["added"][1]]}
    assert api.post("/_sandbox/facilities", json={"state": "XX"}).status_code == 400


def test_statistics_show_a_shared_file_downloaded_once(sandbox: SandboxServer, api: httpx.Client) -> None:
    shared = sandbox.world.summary()["shared_files"][0]
    api.post("/_sandbox/stats/reset")
    api.get(sandbox.mirror_url(shared))
    api.head(sandbox.mirror_url(shared))
    api.get("/facility/search", params={"searchstate": "CA"})
    stats = api.get("/_sandbox/stats", params={"fileid": shared}).json()
    assert stats["downloads"] == 1 and stats["get"] == 1 and stats["head"] == 1 and stats["mirror"] == 2
    assert stats["bytes_sent"] == int(api.head(sandbox.mirror_url(shared)).headers["Content-Length"])
    everything = api.get("/_sandbox/stats").json()
    assert everything["routes"]["GET /facility/search"] == 1
    assert everything["paths"]["GET /facility/search"] == 1
    assert everything["files"][shared]["downloads"] == 1
    api.post("/_sandbox/stats/reset")
    assert api.get("/_sandbox/stats").json()["total"] == 0


def test_large_file_over_http(sandbox: SandboxServer, api: httpx.Client) -> None:
    size = 12 * 1024 * 1024 + 321
    created = api.post("/_sandbox/large-file", json={"size": size, "state": "TX"}).json()
    fileid = created["fileid"]
    assert created["size"] == size
    facility = sandbox.world.facilities_listing(fileid)[0]
    listed = next(f for f in api.get(f"/facility/id/{facility}").json()[0]["files"] if f["fileid"] == fileid)
    assert listed["size"] == str(size) and listed["url"] == created["url"]
    with api.stream("GET", created["url"]) as response:
        assert response.headers["ETag"] == created["etag"]
        assert int(response.headers["Content-Length"]) == size
        body = b"".join(response.iter_bytes(1 << 20))
    assert len(body) == size
    assert check_cms_csv(body, max_errors=5).errors == []
    tail = api.get(created["mirror_url"], headers={"Range": f"bytes={size - 1000}-"})
    assert tail.status_code == 206 and tail.content == body[-1000:]
    middle = api.get(created["url"], headers={"Range": "bytes=5000000-5999999", "If-Range": created["etag"]})
    assert middle.content == body[5_000_000:6_000_000]
    assert api.head(created["url"], headers={"If-None-Match": created["etag"]}).status_code == 304


def test_large_file_can_replace_a_file_and_be_republished(sandbox: SandboxServer, api: httpx.Client) -> None:
    fileid = next(iter(sandbox.world.files))
    replaced = api.post("/_sandbox/large-file", json={"size": 2_000_000, "fileid": fileid}).json()
    assert replaced["fileid"] == fileid and replaced["version"] == 2
    assert len(api.get(sandbox.mirror_url(fileid)).content) == 2_000_000
    republished = api.post("/_sandbox/publish", json={"fileids": [fileid]}).json()["published"][0]
    assert republished["version"] == 3
    info = api.get(f"/_sandbox/file/{fileid}").json()
    assert info["version"] == 3 and info["size"] != 2_000_000 and info["format"].endswith("-large")
    assert len(api.get(sandbox.mirror_url(fileid)).content) == info["size"]
    assert api.post("/_sandbox/large-file", json={"size": 10}).status_code == 400


def test_large_file_gzip_streams_chunked(sandbox: SandboxServer, api: httpx.Client) -> None:
    created = api.post("/_sandbox/large-file", json={"size": 3_000_000}).json()
    sandbox.set_fault(created["fileid"], gzip=True)
    response = api.get(created["url"], headers={"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.headers.get("Transfer-Encoding") == "chunked"
    assert len(response.content) == 3_000_000
    assert response.content == api.get(created["url"], headers={"Accept-Encoding": "identity"}).content


def test_session_and_rate_limit_admin(sandbox: SandboxServer, client: httpx.Client) -> None:
    assert client.post("/_sandbox/sessions", json={"schemes": ["validate"]}).json()["schemes"] == ["validate"]
    assert client.get("/facility/search", params={"searchstate": "CA"}, headers=STATIC_SESSION).json() == []
    token = client.post("/validate", json={}).json()["sessionToken"]
    assert client.post("/_sandbox/sessions/expire").json() == {"expired": 1}
    assert client.get("/facility/search", params={"searchstate": "CA"}, headers={"ptsessionid": token}).json() == []
    assert client.post("/_sandbox/sessions", json={"bogus": 1}).status_code == 400
    assert client.post("/_sandbox/rate-limit", json={"limit": "5/10"}).json() == {"limit": "5/10"}
    assert client.post("/_sandbox/rate-limit", json={"limit": "fast"}).status_code == 400


def test_persistence_replays_the_world_after_a_restart(tmp_path: Path) -> None:
    state_file = tmp_path / "sandbox-state.jsonl"
    first_world = SandboxWorld(seed=SEED, state_file=state_file)
    with SandboxServer(first_world, port=0) as sandbox, httpx.Client(headers=STATIC_SESSION) as api:
        port = sandbox.port
        untouched = listed_files(sandbox, api)
        fileid = untouched[0]["fileid"]
        sandbox.world.publish([fileid])
        added = sandbox.world.add_facilities("WY", 1)
        sandbox.world.remove_facilities([sandbox.world.by_state["DE"][0]])
        large = sandbox.world.add_large_file(1_500_000, state="NM")
        moved_to = sandbox.world.move_file(untouched[1]["fileid"])
        before = api.get(f"{sandbox.url}/facility/search", params={"searchstate": ""}).json()
        large_bytes = api.get(sandbox.mirror_url(large["fileid"])).content
    ops = [json.loads(line)["op"] for line in state_file.read_text().splitlines()]
    assert ops == ["world", "publish", "add_facilities", "remove_facilities", "add_large_file", "move_file"]

    restarted = SandboxWorld(seed=SEED, state_file=state_file)
    assert restarted.replayed_ops == 5
    with SandboxServer(restarted, port=port) as sandbox, httpx.Client(headers=STATIC_SESSION) as api:
        after = api.get(f"{sandbox.url}/facility/search", params={"searchstate": ""}).json()
        assert after == before
        assert added[0] in {record["id"] for record in after}
        assert api.get(sandbox.mirror_url(large["fileid"])).content == large_bytes
        assert sandbox.file_url(untouched[1]["fileid"]).endswith(moved_to)

    # Without the state file the same seed shows the original world again.
    with SandboxServer(SandboxWorld(seed=SEED), port=port) as sandbox, httpx.Client(headers=STATIC_SESSION) as api:
        assert listed_files(sandbox, api) == untouched


def test_state_file_of_another_world_is_refused(tmp_path: Path) -> None:
    state_file = tmp_path / "state.jsonl"
    SandboxWorld(seed=1, state_file=state_file).publish(fraction=0.1)
    with pytest.raises(StateFileMismatch):
        SandboxWorld(seed=2, state_file=state_file)
    with pytest.raises(StateFileMismatch):
        SandboxWorld(seed=1, hospitals=100, state_file=state_file)


def test_a_torn_last_line_is_dropped(tmp_path: Path) -> None:
    state_file = tmp_path / "state.jsonl"
    world = SandboxWorld(seed=1, state_file=state_file)
    fileid = next(iter(world.files))
    world.publish([fileid])
    with state_file.open("a") as handle:
        handle.write('{"op": "publ')
    replayed = SandboxWorld(seed=1, state_file=state_file)
    assert replayed.files[fileid].current.number == 2
    replayed.publish([fileid])
    assert SandboxWorld(seed=1, state_file=state_file).files[fileid].current.number == 3


def test_move_and_config_routes(sandbox: SandboxServer, api: httpx.Client) -> None:
    fileid = next(f for f, hosted in sandbox.world.files.items() if hosted.redirect_status)
    old_url = sandbox.file_url(fileid)
    moved = api.post("/_sandbox/move", json={"fileid": fileid}).json()
    assert moved["fileid"] == fileid and moved["url"] != old_url
    # A redirecting URL that moved stops redirecting: the old link is simply gone.
    assert api.get(old_url).status_code == 404
    assert api.get(moved["url"]).status_code == 200
    assert api.get(f"/_sandbox/file/{fileid}").json()["moves"] == 1
    assert api.post("/_sandbox/move", json={"fileid": "nope"}).status_code == 404
    config = api.get("/_sandbox/config").json()
    assert config["url"] == sandbox.url and config["storage_url"] == f"{sandbox.url}/storage"
    assert api.get("/_sandbox/file/nope").status_code == 404
