"""Which URLs a download may touch: no metadata services, no private networks, by surprise."""

from __future__ import annotations

import httpx
import pytest

from glimmr_dagster.lib.acquire import Downloader, FileRequest, UnsafeUrlError, UrlPolicy, check_url
from glimmr_dagster.lib.acquire.download import DownloadSettings
from glimmr_dagster.lib.acquire.urlsafety import GuardedNetworkBackend, classify_address, parse_allow_hosts

from .conftest import file_stats, plain_fileids, settings_for

# Names resolve through this table, so the tests never depend on real DNS.
ZONE = {
    "hospital.example.org": ["93.184.216.34"],
    "intranet.example.org": ["10.1.2.3"],
    "rebinding.example.org": ["93.184.216.35", "192.168.1.20"],
    "metadata.google.internal": ["169.254.169.254"],
    "mirror.svc.cluster.local": ["10.96.0.15"],
    "v6.example.org": ["2606:4700::6810:85e5"],
    "v6-mapped.example.org": ["::ffff:169.254.169.254"],
}


def resolve(host: str) -> list[str]:
    if host not in ZONE:
        raise UnsafeUrlError(f"host {host!r} does not resolve")
    return ZONE[host]


def check(url: str, allowed=(), same_kind_as=()):
    check_url(url, set(allowed), list(same_kind_as), resolver=resolve)


@pytest.mark.parametrize("url", [
    "https://hospital.example.org/mrf/prices.csv",
    "http://93.184.216.34:8080/x.json",
    "https://v6.example.org/a.csv",
])
def test_public_http_urls_are_allowed(url):
    check(url)


@pytest.mark.parametrize("url, reason", [
    ("ftp://hospital.example.org/prices.csv", "only http and https"),
    ("file:///etc/passwd", "only http and https"),
    ("https:///prices.csv", "no host"),
    ("http://169.254.169.254/latest/meta-data/", "metadata"),
    ("http://[fd00:ec2::254]/latest/meta-data/", "metadata"),
    ("http://metadata.google.internal/computeMetadata/v1/", "metadata"),
    ("http://v6-mapped.example.org/", "metadata"),
    ("http://127.0.0.1:8765/origin/x.csv", "loopback"),
    ("http://[::1]/x.csv", "loopback"),
    ("http://0.0.0.0:80/x.csv", "unspecified"),
    ("http://intranet.example.org/x.csv", "private"),
    ("http://172.16.5.4/x.csv", "private"),
    ("http://169.254.10.10/x.csv", "link-local"),
    ("http://100.64.1.1/x.csv", "private"),
    ("http://rebinding.example.org/x.csv", "private"),
    ("http://nowhere.example.org/x.csv", "does not resolve"),
])
def test_refused_urls_say_why(url, reason):
    with pytest.raises(UnsafeUrlError, match=reason) as refused:
        check(url)
    assert url in str(refused.value)


def test_addresses_like_the_configured_pra_hosts_are_allowed():
    # A sandbox on loopback: loopback origins work, private networks and metadata still do not.
    check("http://127.0.0.1:9000/origin/x.csv", same_kind_as=["http://127.0.0.1:8765"])
    with pytest.raises(UnsafeUrlError):
        check("http://intranet.example.org/x.csv", same_kind_as=["http://127.0.0.1:8765"])
    # An in-cluster mirror: the private class is trusted, metadata never by this route.
    check("http://intranet.example.org/x.csv", same_kind_as=["http://mirror.svc.cluster.local"])
    with pytest.raises(UnsafeUrlError, match="metadata"):
        check("http://169.254.169.254/", same_kind_as=["http://169.254.169.254"])


def test_listed_hosts_addresses_and_networks_are_allowed():
    check("http://intranet.example.org/x.csv", allowed=parse_allow_hosts("intranet.example.org"))
    check("http://10.9.9.9/x.csv", allowed=parse_allow_hosts("files.local, 10.0.0.0/8"))
    check("http://192.168.1.20/x.csv", allowed=parse_allow_hosts("192.168.1.20"))
    with pytest.raises(UnsafeUrlError):
        check("http://192.168.1.21/x.csv", allowed=parse_allow_hosts("192.168.1.20"))


def test_address_classes():
    import ipaddress

    assert classify_address(ipaddress.ip_address("8.8.8.8")) == "public"
    assert classify_address(ipaddress.ip_address("fe80::1")) == "link-local"
    assert classify_address(ipaddress.ip_address("fc00::1")) == "private"
    assert classify_address(ipaddress.ip_address("224.0.0.1")) == "special-purpose"


def test_the_connect_time_guard_refuses_what_the_name_resolves_to_then():
    # The name passed the first check; by the time of the connection it points elsewhere.
    answers = iter([["93.184.216.34"], ["169.254.169.254"]])
    policy = UrlPolicy.build(resolver=lambda host: next(answers))
    policy.check_url("http://flip.example.org/x.csv")
    with pytest.raises(UnsafeUrlError, match="metadata"):
        GuardedNetworkBackend(policy).connect_tcp("flip.example.org", 80)


def test_the_downloader_refuses_unsafe_urls_without_sending_anything(sandbox, local_store):
    with Downloader(DownloadSettings(), local_store) as client:
        outcome = client.fetch(FileRequest(url=sandbox.url + "/origin/whatever.csv"))
    assert outcome.status == "failed" and not outcome.transient
    assert "loopback address" in outcome.error and "GLIMMR_ALLOW_HOSTS" in outcome.error
    assert sandbox.stats.snapshot()["total"] == 0
    assert local_store.partial_files() == []


def test_every_redirect_hop_is_checked(sandbox, world, local_store):
    # Only the name `localhost` is trusted; the redirect points at 127.0.0.1, which is not.
    fileid = plain_fileids(world, redirect=True)[0]
    start = sandbox.file_url(fileid).replace("127.0.0.1", "localhost")
    settings = DownloadSettings(allowed_hosts=frozenset({"localhost"}), probe_with_head=False)
    with Downloader(settings, local_store) as client:
        outcome = client.fetch(FileRequest(url=start))
    assert outcome.status == "failed"
    assert "127.0.0.1 is a loopback address" in outcome.error
    # The redirect was read; its target was never asked for.
    stats = file_stats(sandbox, fileid, lambda s: s["get"] >= 1)
    assert stats["get"] == 1 and stats["downloads"] == 0 and stats["statuses"] == {"302": 1}


def test_trusting_the_sandbox_kind_lets_downloads_through(sandbox, world, local_store):
    fileid = plain_fileids(world)[0]
    with Downloader(settings_for(sandbox), local_store) as client:
        assert client.fetch(FileRequest(url=sandbox.file_url(fileid))).status == "downloaded"


def test_connect_time_refusal_passes_through_httpx_unchanged():
    policy = UrlPolicy.build()
    transport = httpx.HTTPTransport()
    transport._pool._network_backend = GuardedNetworkBackend(policy)
    with httpx.Client(transport=transport) as client, pytest.raises(UnsafeUrlError):
        client.get("http://127.0.0.1:9/")
