"""The PRA client against the sandbox over real HTTP on loopback."""

import threading

import httpx
import pytest

from glimmr_dagster.lib.pra.client import PraClient, PraError, PraSessionError
from glimmr_dagster.lib.ratelimit import SharedRateLimiter
from glimmr_dagster.lib.settings import PraSettings, RateLimit
from glimmr_dagster.lib.states import STATE_CODES
from glimmr_dagster.sandbox import SandboxServer, SandboxWorld, SessionPolicy


def client_for(server, **overrides) -> PraClient:
    settings = PraSettings(
        api_url=server.url,
        storage_url=server.storage_url,
        rate_limit=RateLimit.parse("off"),
        backoff_base_seconds=0.05,
        backoff_max_seconds=0.2,
        **overrides,
    )
    return PraClient(settings)


@pytest.fixture
def server_with(request):
    """A sandbox configured by the test: server_with(sessions=..., rate_limit=...)."""
    servers = []

    def start(**options):
        server = SandboxServer(SandboxWorld(seed=11), port=0, **options).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.mark.parametrize("scheme", ["validate", "user_session", "static"])
def test_each_session_scheme_alone_serves_a_full_listing(server_with, scheme):
    server = server_with(sessions=SessionPolicy(schemes=(scheme,)))
    static_id = server.sessions.policy.static_session_id
    with client_for(server, static_session_id=static_id) as client:
        listing = client.search_state("CA")
    expected = [r for r in server.world.search("CA") if r.get("name")]
    assert client.session_scheme == scheme
    assert sorted(f.id for f in listing.facilities) == sorted(r["id"] for r in expected)
    assert len(listing.facilities) > 0


def test_auto_prefers_the_newest_scheme_that_works(sandbox):
    with client_for(sandbox) as client:
        client.search_state("TX")
    assert client.session_scheme == "validate"


def test_forced_scheme_is_used(sandbox):
    with client_for(sandbox, session_scheme="user_session") as client:
        assert client.search_state("TX").facilities
    assert client.session_scheme == "user_session"


def test_rotated_session_ids_are_adopted(server_with):
    server = server_with(sessions=SessionPolicy(schemes=("user_session",), rotate_every=2))
    with client_for(server) as client:
        counts = [len(client.search_state(state).facilities) for state in ("CA", "TX", "FL", "NY", "PA")]
    assert all(counts) and client.sessions_opened == 1


def test_expired_session_is_renewed_not_read_as_closed_hospitals(server_with):
    server = server_with(sessions=SessionPolicy(schemes=("validate",), max_requests=2))
    with client_for(server) as client:
        listings = [client.search_state(state, had_hospitals=True) for state in ("CA", "TX", "FL", "NY")]
    assert all(listing.facilities for listing in listings)
    assert client.sessions_opened >= 2


def test_empty_answer_for_a_state_with_hospitals_is_a_session_failure(sandbox):
    sandbox.set_fault(empty_session_answers=True)
    with client_for(sandbox) as client:
        with pytest.raises(PraSessionError, match=r"answered \[\] for state CA twice.*keeping the previous roster"):
            client.search_state("CA", had_hospitals=True)
        opened = client.sessions_opened
    assert opened == 2  # the empty answer was retried once with a fresh session


def test_empty_object_answer_is_also_a_session_failure(sandbox):
    sandbox.set_fault(empty_session_answers=True, empty_as_object=True)
    with client_for(sandbox) as client:
        with pytest.raises(PraSessionError, match=r"answered \{\} for state NV"):
            client.search_state("NV", had_hospitals=True)
        # A state never seen before may truly be empty: believed after the renewed session.
        assert client.search_state("NV", had_hospitals=False).facilities == []


def test_5xx_answers_are_retried(sandbox):
    sandbox.set_fault(api_fail_first=3)
    with client_for(sandbox) as client:
        listing = client.search_state("FL")
    assert listing.facilities
    assert sandbox.stats.snapshot()["statuses"].get("503", 0) == 3


def test_persistent_5xx_fails_with_a_clear_message(sandbox):
    sandbox.set_fault(api_fail_first=50)
    with client_for(sandbox, max_attempts=3) as client:
        with pytest.raises(PraError, match=r"failed after 3 attempts: HTTP 503"):
            client.search_state("FL")


def test_429_with_retry_after_is_honoured(server_with):
    server = server_with(rate_limit="3/1")
    with client_for(server) as client:
        listings = [client.search_state(state) for state in ("CA", "TX", "FL", "NY", "PA", "OH")]
    assert all(listing.facilities for listing in listings)
    assert server.stats.snapshot()["statuses"].get("429", 0) >= 1


def test_shared_limit_keeps_concurrent_clients_under_the_servers_limit(server_with, catalog):
    server = server_with(rate_limit="4/1")
    results, errors = [], []

    def scan(states):
        # The same count over a slightly longer window: network jitter cannot push a request
        # into the server's window early (what a deployment does to stay under a real limit).
        limiter = SharedRateLimiter(catalog, "pra-test", RateLimit(4, 1.25))
        settings = PraSettings(api_url=server.url, storage_url=server.storage_url, max_attempts=1)
        try:
            with PraClient(settings, limiter=limiter) as client:
                results.extend(len(client.search_state(state).facilities) for state in states)
        except Exception as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=scan, args=(states,)) for states in (STATE_CODES[:5], STATE_CODES[5:10])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # With one attempt per call, a single 429 would have failed a client.
    assert errors == [] and len(results) == 10
    assert server.stats.snapshot()["statuses"].get("429", 0) == 0


def test_every_retrieved_format_the_index_uses_parses(sandbox):
    with client_for(sandbox) as client:
        files = [f for state in STATE_CODES for fac in client.search_state(state).facilities for f in fac.files]
    shapes = {("T" in f.retrieved, f.retrieved.endswith("Z"), f.retrieved.isdigit(), " " in f.retrieved)
              for f in files}
    assert len(shapes) >= 3  # ISO with zone, ISO without, "YYYY-MM-DD HH:MM:SS", epoch
    assert all(f.retrieved_at is not None for f in files if f.retrieved)
    assert all(f.size and f.size > 0 for f in files)


def test_records_without_a_name_are_skipped_and_counted(sandbox):
    raw = [r for state in STATE_CODES for r in sandbox.world.search(state)]
    nameless = sum(1 for r in raw if not str(r.get("name", "")).strip())
    with client_for(sandbox) as client:
        skipped = sum(client.search_state(state).skipped for state in STATE_CODES)
    assert nameless > 0 and skipped == nameless


def test_mirror_urls_resolve_and_serve_the_file(sandbox):
    with client_for(sandbox) as client:
        files = [f for state in STATE_CODES for fac in client.search_state(state).facilities for f in fac.files]
        cfu = next(f for f in files if f.uses_file_link)
        stored = next(f for f in files if not f.uses_file_link and f.storage)
        for record in (cfu, stored):
            url = client.mirror_url(record)
            response = httpx.get(url)
            assert response.status_code == 200, url
            assert len(response.content) == record.size


def test_facility_lookup_by_id(sandbox):
    with client_for(sandbox) as client:
        first = client.search_state("CA").facilities[0]
        again = client.facility(first.id, "CA")
        assert again == first
        assert client.facility("00000000-0000-0000-0000-000000000000") is None


def test_connection_errors_are_retried_then_reported():
    from glimmr_dagster_tests.services import free_port

    settings = PraSettings(api_url=f"http://127.0.0.1:{free_port()}", storage_url="http://127.0.0.1:9",
                           rate_limit=RateLimit.parse("off"), session_scheme="none", max_attempts=3,
                           backoff_base_seconds=0.01, backoff_max_seconds=0.02)
    with PraClient(settings) as client:
        with pytest.raises(PraError, match=r"failed after 3 attempts: ConnectError"):
            client.search_state("CA")
        assert client.requests_sent == 3
