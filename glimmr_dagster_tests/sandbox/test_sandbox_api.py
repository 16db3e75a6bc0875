"""The PRA index API over real HTTP: routes, the three session schemes, `[]` answers, rate limits."""

from __future__ import annotations

import time

import httpx
import pytest

from glimmr_dagster.sandbox import SandboxServer, SandboxWorld, SessionPolicy

from .conftest import SEED, STATIC_SESSION


def user_session(client: httpx.Client) -> httpx.Response:
    return client.post("/user/session", json={"username": str(int(time.time() * 1000)), "password": ""})


def test_without_a_session_the_api_answers_empty_200(client: httpx.Client, world: SandboxWorld) -> None:
    facility_id = next(iter(world.facilities))
    fileid = next(iter(world.files))
    for path, empty in [("/facility/search?search=&searchstate=CA", []), (f"/facility/id/{facility_id}", []),
                        (f"/file/link/{fileid}", {})]:
        response = client.get(path)
        assert response.status_code == 200
        assert response.json() == empty
        response = client.get(path, headers={"sessionid": "made-up"})
        assert response.json() == empty


def test_static_session_scheme(api: httpx.Client, world: SandboxWorld) -> None:
    response = api.get("/facility/search", params={"search": "", "searchstate": "CA"})
    assert response.status_code == 200
    records = response.json()
    assert isinstance(records, list)
    assert {record["id"] for record in records} == set(world.by_state["CA"])
    assert "ratelimit" in response.headers


def test_user_session_scheme(client: httpx.Client, world: SandboxWorld) -> None:
    created = user_session(client)
    assert created.status_code == 200
    session_id = created.json()["sessionid"]
    assert created.headers["sessionid"] == session_id
    assert client.get("/check").json()["ts"] > 1_700_000_000_000
    facility_id = world.by_state["TX"][0]
    response = client.get(f"/facility/id/{facility_id}", headers={"sessionid": session_id})
    assert [record["id"] for record in response.json()] == [facility_id]
    assert client.get("/facility/id/not-a-real-id", headers={"sessionid": session_id}).json() == []


def test_user_session_wants_an_epoch_username(client: httpx.Client) -> None:
    assert client.post("/user/session", json={"username": "alice", "password": ""}).status_code == 400
    assert client.post("/user/session", content=b"not json").status_code == 400


def test_validate_scheme(client: httpx.Client, world: SandboxWorld) -> None:
    answer = client.post("/validate", json={})
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"sessionToken", "expires"} and body["expires"] == 3600
    records = client.get("/facility/search", params={"searchstate": "NY"},
                         headers={"ptsessionid": body["sessionToken"]}).json()
    assert {record["id"] for record in records} == set(world.by_state["NY"])
    # A validate token is not a sessionid.
    assert client.get("/facility/search", params={"searchstate": "NY"},
                      headers={"sessionid": body["sessionToken"]}).json() == []


def test_disabled_schemes_are_refused_so_clients_fall_back() -> None:
    policy = SessionPolicy(schemes=("static",))
    with SandboxServer(SandboxWorld(seed=SEED), port=0, sessions=policy) as sandbox, \
            httpx.Client(base_url=sandbox.url) as client:
        assert client.post("/validate", json={}).status_code == 404
        assert user_session(client).status_code == 404
        assert client.get("/facility/search", params={"searchstate": "CA"}, headers=STATIC_SESSION).json() != []
    with SandboxServer(SandboxWorld(seed=SEED), port=0, sessions=SessionPolicy(schemes=("validate",))) as sandbox, \
            httpx.Client(base_url=sandbox.url) as client:
        assert client.get("/facility/search", params={"searchstate": "CA"}, headers=STATIC_SESSION).json() == []
        token = client.post("/validate", json={}).json()["sessionToken"]
        assert client.get("/facility/search", params={"searchstate": "CA"},
                          headers={"ptsessionid": token}).json() != []


def test_sessions_expire_after_ttl_and_request_count() -> None:
    with SandboxServer(SandboxWorld(seed=SEED), port=0,
                       sessions=SessionPolicy(ttl_seconds=0.3, max_requests=2)) as sandbox, \
            httpx.Client(base_url=sandbox.url) as client:
        search = {"searchstate": "FL"}
        session = {"sessionid": user_session(client).json()["sessionid"]}
        assert client.get("/facility/search", params=search, headers=session).json() != []
        assert client.get("/facility/search", params=search, headers=session).json() != []
        assert client.get("/facility/search", params=search, headers=session).json() == []
        session = {"sessionid": user_session(client).json()["sessionid"]}
        assert client.get("/facility/search", params=search, headers=session).json() != []
        time.sleep(0.45)
        assert client.get("/facility/search", params=search, headers=session).json() == []
        token = client.post("/validate", json={}).json()
        assert token["expires"] == 0
        # The static scheme has no session to expire.
        for _ in range(3):
            assert client.get("/facility/search", params=search, headers=STATIC_SESSION).json() != []


def test_rotated_session_id_must_be_adopted(sandbox: SandboxServer, client: httpx.Client) -> None:
    sandbox.sessions.update_policy(rotate_every=2)
    old = user_session(client).json()["sessionid"]
    search = {"searchstate": "OH"}
    first = client.get("/facility/search", params=search, headers={"sessionid": old})
    assert first.json() != [] and "sessionid" not in first.headers
    second = client.get("/facility/search", params=search, headers={"sessionid": old})
    assert second.json() != []
    new = second.headers["sessionid"]
    assert new != old
    assert client.get("/facility/search", params=search, headers={"sessionid": old}).json() == []
    assert client.get("/facility/search", params=search, headers={"sessionid": new}).json() != []


def test_file_link_resolves_cfu_files(sandbox: SandboxServer, api: httpx.Client, world: SandboxWorld) -> None:
    cfu = [hosted for hosted in world.files.values() if hosted.is_cfu]
    assert {hosted.cfu_link_absolute for hosted in cfu} == {True, False}
    for hosted in cfu:
        link = api.get(f"/file/link/{hosted.fileid}").json()["url"]
        url = link if link.startswith("http") else f"{sandbox.storage_url}/{hosted.project}/{link}"
        response = api.get(url)
        assert response.status_code == 200
        assert response.content == world.store.content(hosted.current.spec).read_all()
    assert api.get("/file/link/000000000000000000000000").json() == {}


def test_search_text_filters(api: httpx.Client, world: SandboxWorld) -> None:
    ca = api.get("/facility/search", params={"search": "", "searchstate": "CA"}).json()
    named = next(record for record in ca if record["name"])
    found = api.get("/facility/search", params={"search": named["name"].lower(), "searchstate": "CA"}).json()
    assert named["id"] in {record["id"] for record in found}
    assert len(found) < len(ca) or len(ca) == 1
    assert api.get("/facility/search", params={"search": "zzzz-nothing", "searchstate": "CA"}).json() == []


def test_rate_limit_answers_429_with_retry_after(sandbox: SandboxServer, api: httpx.Client) -> None:
    sandbox.rate_limiter.configure("3/60")
    statuses = [api.get("/check").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = api.get("/facility/search", params={"searchstate": "CA"})
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert "remaining=0" in refused.headers["ratelimit"]
    # Files are not rate limited: downloads go on while the API waits.
    fileid, hosted = next(iter(sandbox.world.files.items()))
    assert api.get(sandbox.mirror_url(fileid)).status_code == 200
    sandbox.rate_limiter.configure("off")
    assert api.get("/check").status_code == 200


def test_rate_limit_window_slides() -> None:
    with SandboxServer(SandboxWorld(seed=SEED), port=0, rate_limit="2/0.5") as sandbox, \
            httpx.Client(base_url=sandbox.url) as client:
        assert [client.get("/check").status_code for _ in range(3)] == [200, 200, 429]
        time.sleep(0.6)
        assert client.get("/check").status_code == 200


def test_unknown_api_paths_are_404(client: httpx.Client) -> None:
    assert client.get("/facility/unknown").status_code == 404
    assert client.get("/").status_code == 404


@pytest.mark.parametrize("method, path", [("POST", "/check"), ("GET", "/validate"), ("GET", "/user/session")])
def test_wrong_methods_are_405(client: httpx.Client, method: str, path: str) -> None:
    assert client.request(method, path).status_code == 405
