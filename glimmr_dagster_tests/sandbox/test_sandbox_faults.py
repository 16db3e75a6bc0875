"""Every fault switch, set in-process and over the admin API, as clients meet them on the wire."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

import httpx
import pytest

from glimmr_dagster.sandbox import SandboxServer, is_library_agent

from .conftest import BROWSER_AGENT


def a_file(sandbox: SandboxServer) -> str:
    return next(fileid for fileid, hosted in sandbox.world.files.items() if not hosted.redirect_status)


def raw_get(url: str, extra_headers: str = "") -> tuple[bytes, bytes]:
    """GET over a bare socket: (head, body until the server closes or the declared length arrives)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as connection:
        request = (f"GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                   f"User-Agent: {BROWSER_AGENT}\r\n{extra_headers}\r\n")
        connection.sendall(request.encode())
        data = b""
        while b"\r\n\r\n" not in data:
            data += connection.recv(65536)
        head, body = data.split(b"\r\n\r\n", 1)
        length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length"))
        while len(body) < length:
            chunk = connection.recv(65536)
            if not chunk:
                break
            body += chunk
        return head, body


@pytest.mark.parametrize("agent, blocked", [
    ("python-httpx/0.28.1", True), ("python-requests/2.32", True), ("curl/8.5.0", True), ("Wget/1.21", True),
    ("Go-http-client/1.1", True), ("Python/3.11 aiohttp/3.9", True), ("Python-urllib/3.11", True),
    ("okhttp/4.12", True), ("", True), ("glimmr/0.1", True), (BROWSER_AGENT, False),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Version/17.5 Safari/605.1.15", False),
])
def test_library_agent_detection(agent: str, blocked: bool) -> None:
    assert is_library_agent(agent) is blocked


def test_library_agents_get_403_browsers_get_the_file(sandbox: SandboxServer, client: httpx.Client) -> None:
    fileid = a_file(sandbox)
    url = sandbox.file_url(fileid)
    sandbox.set_fault(fileid, block_library_agents=True)
    assert client.get(url).status_code == 403
    assert client.get(url, headers={"User-Agent": "curl/8.5.0"}).status_code == 403
    assert client.get(url, headers={"User-Agent": BROWSER_AGENT}).status_code == 200
    other = next(f for f in sandbox.world.files if f != fileid and not sandbox.world.files[f].redirect_status)
    assert client.get(sandbox.file_url(other)).status_code == 200
    sandbox.clear_faults(fileid)
    assert client.get(url).status_code == 200


def test_head_404_while_get_works(sandbox: SandboxServer, client: httpx.Client) -> None:
    fileid = a_file(sandbox)
    sandbox.set_fault(fileid, head_404=True)
    assert client.head(sandbox.file_url(fileid)).status_code == 404
    assert client.head(sandbox.mirror_url(fileid)).status_code == 404
    assert client.get(sandbox.file_url(fileid)).status_code == 200


def test_first_gets_fail_with_5xx(sandbox: SandboxServer, client: httpx.Client) -> None:
    fileid = a_file(sandbox)
    url = sandbox.file_url(fileid)
    sandbox.set_fault(fileid, fail_first=2, fail_status=502)
    assert client.head(url).status_code == 200  # HEAD is not a counted attempt
    assert [client.get(url).status_code for _ in range(3)] == [502, 502, 200]
    # Setting the switch again restarts the count.
    sandbox.set_fault(fileid, fail_first=1)
    assert [client.get(sandbox.mirror_url(fileid)).status_code for _ in range(2)] == [502, 200]


def test_truncated_body_on_every_attempt(sandbox: SandboxServer, client: httpx.Client) -> None:
    fileid = a_file(sandbox)
    url = sandbox.file_url(fileid)
    size = int(client.head(url).headers["Content-Length"])
    sandbox.set_fault(fileid, truncate_at=1000)
    for _ in range(2):
        with pytest.raises(httpx.RemoteProtocolError):
            client.get(url, headers={"Accept-Encoding": "identity"})
    head, body = raw_get(url)
    assert f"Content-Length: {size}".encode() in head
    assert len(body) == 1000 < size


def test_truncated_body_only_on_first_attempts(sandbox: SandboxServer, client: httpx.Client) -> None:
    fileid = a_file(sandbox)
    url = sandbox.mirror_url(fileid)
    sandbox.set_fault(fileid, truncate_at=10, truncate_times=1)
    with pytest.raises(httpx.RemoteProtocolError):
        client.get(url)
    whole = client.get(url)
    assert whole.status_code == 200
    assert len(whole.content) == int(whole.headers["Content-Length"])


def test_slow_drip(sandbox: SandboxServer, client: httpx.Client) -> None:
    fileid = a_file(sandbox)
    url = sandbox.file_url(fileid)
    sandbox.set_fault(fileid, drip_bytes_per_second=10_000)
    started = time.monotonic()
    part = client.get(url, headers={"Range": "bytes=0-4999"})
    elapsed = time.monotonic() - started
    assert part.status_code == 206 and len(part.content) == 5000
    assert 0.4 <= elapsed < 5, elapsed


def test_moved_file_keeps_its_fileid(sandbox: SandboxServer, api: httpx.Client) -> None:
    fileid = a_file(sandbox)
    facility_id = sandbox.world.facilities_listing(fileid)[0]
    old_url = sandbox.file_url(fileid)
    before = api.get(old_url).content
    moved = api.post("/_sandbox/faults", json={"fileid": fileid, "faults": {"moved": True}}).json()
    new_url = moved["faults"]["moved_to"]
    assert new_url != old_url
    assert api.get(old_url).status_code == 404
    assert api.get(new_url).content == before
    record = api.get(f"/facility/id/{facility_id}").json()[0]
    listed = next(f for f in record["files"] if f["fileid"] == fileid)
    assert listed["url"] == new_url
    # The in-process switch does the same, and the mirror copy never moves.
    again = sandbox.set_fault(fileid, moved=True)["moved_to"]
    assert api.get(new_url).status_code == 404 and api.get(again).status_code == 200
    assert api.get(sandbox.mirror_url(fileid)).content == before


def test_empty_session_answers(sandbox: SandboxServer, api: httpx.Client) -> None:
    assert api.get("/facility/search", params={"searchstate": "CA"}).json() != []
    api.post("/_sandbox/faults", json={"faults": {"empty_session_answers": True}})
    assert api.get("/facility/search", params={"searchstate": "CA"}).json() == []
    assert api.get(f"/file/link/{a_file(sandbox)}").json() == {}
    api.post("/_sandbox/faults", json={"faults": {"empty_as_object": True}})
    assert api.get("/facility/search", params={"searchstate": "CA"}).json() == {}
    api.post("/_sandbox/faults/clear", json={})
    assert api.get("/facility/search", params={"searchstate": "CA"}).json() != []
    # Without a session the answer is `{}` too while the switch is on.
    sandbox.set_fault(empty_as_object=True)
    assert httpx.get(f"{sandbox.url}/facility/search", params={"searchstate": "CA"}).json() == {}


def test_api_failures(sandbox: SandboxServer, api: httpx.Client) -> None:
    sandbox.set_fault(api_fail_first=2, api_fail_status=503)
    statuses = [api.get("/facility/search", params={"searchstate": "CA"}).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]


def test_scope_limits_a_fault_to_origin_or_mirror(sandbox: SandboxServer, client: httpx.Client) -> None:
    fileid = a_file(sandbox)
    sandbox.set_fault(fileid, block_library_agents=True, scope="origin")
    assert client.get(sandbox.file_url(fileid)).status_code == 403
    assert client.get(sandbox.mirror_url(fileid)).status_code == 200


def test_global_faults_and_per_file_overrides(sandbox: SandboxServer, client: httpx.Client) -> None:
    first, second = [f for f, h in sandbox.world.files.items() if not h.redirect_status][:2]
    response = client.post("/_sandbox/faults", json={"faults": {"block_library_agents": True}})
    assert response.status_code == 200
    assert client.get(sandbox.file_url(first)).status_code == 403
    assert client.get(sandbox.file_url(second)).status_code == 403
    client.post("/_sandbox/faults", json={"fileid": second, "faults": {"block_library_agents": False}})
    assert client.get(sandbox.file_url(second)).status_code == 200
    snapshot = client.get("/_sandbox/faults").json()
    assert snapshot["global"]["block_library_agents"] is True
    assert snapshot["files"][second] == {"block_library_agents": False}
    client.delete("/_sandbox/faults")
    assert client.get(sandbox.file_url(first)).status_code == 200
    assert client.get("/_sandbox/faults").json()["files"] == {}


def test_bad_fault_requests_are_refused(sandbox: SandboxServer, client: httpx.Client) -> None:
    assert client.post("/_sandbox/faults", json={"faults": {"explode": True}}).status_code == 400
    assert client.post("/_sandbox/faults", json={"faults": {"fail_status": 200}}).status_code == 400
    assert client.post("/_sandbox/faults", json={"fileid": "nope", "faults": {"head_404": True}}).status_code == 404
    assert client.post("/_sandbox/faults", json={"fileid": a_file(sandbox),
                                                 "faults": {"empty_session_answers": True}}).status_code == 400
