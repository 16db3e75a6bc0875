"""Which URLs a download may touch.

File URLs come from the index, which copies them from hospitals' websites: anyone who can get a
URL listed could point the collector at a cloud metadata service or at services on its private
network. So only http(s) is fetched, and a host whose address is loopback, private, link-local,
a metadata service or otherwise special is refused, with two exceptions:

- addresses of the same class as the configured PRA hosts (a sandbox on loopback, an in-cluster
  mirror on a private network) are allowed, metadata services never by this route;
- hosts, addresses and networks listed in `GLIMMR_ALLOW_HOSTS` are allowed.

`check_url` gives a clear, early error for each URL and each redirect hop. Because a name can
resolve differently a moment later (DNS rebinding), `GuardedNetworkBackend` checks again at
connect time and connects to exactly the address it checked.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass, field
from typing import Callable, Iterable
from urllib.parse import urlsplit

import httpcore

ALLOWED_SCHEMES = ("http", "https")

# Cloud instance-metadata endpoints (AWS/GCP/Azure/OpenStack, AWS IPv6, ECS tasks, Alibaba).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address)
    for address in ("169.254.169.254", "fd00:ec2::254", "169.254.170.2", "169.254.170.23", "100.100.100.200")
)

# Address classes, from the most to the least dangerous.
METADATA = "metadata"
UNSPECIFIED = "unspecified"
LOOPBACK = "loopback"
LINK_LOCAL = "link-local"
PRIVATE = "private"
SPECIAL = "special-purpose"  # multicast, reserved, documentation and similar ranges
PUBLIC = "public"

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str], list[str]]


class UnsafeUrlError(ValueError):
    """A URL the collector refuses to fetch; the message says which URL and why."""


def classify_address(address: Address) -> str:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in METADATA_ADDRESSES:
        return METADATA
    if address.is_unspecified:
        return UNSPECIFIED
    if address.is_loopback:
        return LOOPBACK
    if address.is_link_local:
        return LINK_LOCAL
    if address.is_multicast or address.is_reserved:
        return SPECIAL
    if address.is_private or (isinstance(address, ipaddress.IPv4Address) and address in _SHARED_ADDRESS_SPACE):
        return PRIVATE
    if not address.is_global:
        return SPECIAL
    return PUBLIC


_SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT


def system_resolver(host: str) -> list[str]:
    """Every address `host` resolves to (IPv4 and IPv6), as the connection would see them."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UnsafeUrlError(f"host {host!r} does not resolve: {exc.strerror or exc}") from None
    return list(dict.fromkeys(info[4][0] for info in infos))


def _literal_address(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def parse_allow_hosts(text: str) -> set[str]:
    """`GLIMMR_ALLOW_HOSTS`: comma- or space-separated host names, IP addresses or CIDR networks."""
    return {item.strip().lower() for item in text.replace(",", " ").split() if item.strip()}


@dataclass(frozen=True)
class UrlPolicy:
    """What may be fetched: the public internet, plus the exceptions listed in the module docs."""

    allowed_hosts: frozenset[str] = frozenset()
    allowed_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    # Address classes allowed besides PUBLIC (learned from the configured PRA URLs).
    allowed_classes: frozenset[str] = frozenset()
    resolver: Resolver = field(default=system_resolver, compare=False, repr=False)

    @classmethod
    def build(
        cls,
        allowed_hosts: Iterable[str] = (),
        allow_same_kind_as: Iterable[str] = (),
        *,
        resolver: Resolver = system_resolver,
    ) -> "UrlPolicy":
        names: set[str] = set()
        networks = []
        for item in allowed_hosts:
            item = item.strip().lower()
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item.strip("[]"), strict=False))
            except ValueError:
                names.add(item.rstrip("."))
        classes: set[str] = set()
        for url in allow_same_kind_as:
            host = (urlsplit(url).hostname or "").lower()
            if not host:
                continue
            literal = _literal_address(host)
            try:
                addresses = [literal] if literal else [ipaddress.ip_address(a) for a in resolver(host)]
            except UnsafeUrlError:
                # The configured host does not resolve here (offline): it teaches nothing.
                continue
            classes.update(classify_address(address) for address in addresses)
        classes.discard(METADATA)
        classes.discard(PUBLIC)
        return cls(frozenset(names), tuple(networks), frozenset(classes), resolver)

    @classmethod
    def from_environment(
        cls, pra_urls: Iterable[str] = (), environ: dict[str, str] | None = None
    ) -> "UrlPolicy":
        env = environ if environ is not None else os.environ
        return cls.build(parse_allow_hosts(env.get("GLIMMR_ALLOW_HOSTS", "")), pra_urls)

    def host_is_listed(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.allowed_hosts

    def address_problem(self, address: Address) -> str | None:
        """Why connecting to `address` is refused, or None when it is allowed."""
        if any(address in network for network in self.allowed_networks):
            return None
        kind = classify_address(address)
        if kind == PUBLIC or kind in self.allowed_classes:
            return None
        return f"{address} is a {kind} address"

    def check_host(self, host: str) -> list[Address]:
        """The addresses of `host` that may be connected to; raises if any is refused.

        All addresses must pass: a name that resolves to one public and one private address
        would otherwise reach the private one whenever the connection picks it.
        """
        if self.host_is_listed(host):
            literal = _literal_address(host)
            return [literal] if literal else [ipaddress.ip_address(a) for a in self.resolver(host)]
        literal = _literal_address(host)
        addresses = [literal] if literal else [ipaddress.ip_address(a.split("%", 1)[0]) for a in self.resolver(host)]
        if not addresses:
            raise UnsafeUrlError(f"host {host!r} resolves to no address")
        for address in addresses:
            problem = self.address_problem(address)
            if problem:
                raise UnsafeUrlError(
                    f"refusing host {host!r}: {problem}; allow it with GLIMMR_ALLOW_HOSTS if it is trusted"
                )
        return addresses

    def check_url(self, url: str) -> None:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ALLOWED_SCHEMES:
            raise UnsafeUrlError(
                f"refusing {url!r}: only http and https URLs are fetched, not {scheme or 'no scheme'!r}"
            )
        try:
            host = parts.hostname
            parts.port  # noqa: B018 - raises on a malformed port
        except ValueError as exc:
            raise UnsafeUrlError(f"refusing {url!r}: {exc}") from None
        if not host:
            raise UnsafeUrlError(f"refusing {url!r}: the URL has no host")
        try:
            self.check_host(host)
        except UnsafeUrlError as exc:
            raise UnsafeUrlError(f"refusing {url}: {str(exc).removeprefix('refusing ')}") from None


def check_url(
    url: str,
    allowed_hosts: set[str] | frozenset[str] = frozenset(),
    allow_same_kind_as: list[str] | tuple[str, ...] = (),
    *,
    resolver: Resolver = system_resolver,
) -> None:
    """Raise `UnsafeUrlError` unless `url` may be fetched (see the module docs for the rules)."""
    UrlPolicy.build(allowed_hosts, allow_same_kind_as, resolver=resolver).check_url(url)


class GuardedNetworkBackend(httpcore.NetworkBackend):
    """Checks the address at connect time and connects to exactly the address it checked."""

    def __init__(self, policy: UrlPolicy, inner: httpcore.NetworkBackend | None = None):
        self.policy = policy
        self.inner = inner or httpcore.SyncBackend()

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        # UnsafeUrlError passes through httpx unchanged, so it is never mistaken for a
        # transient connect failure and retried.
        addresses = self.policy.check_host(host)
        last_error: Exception | None = None
        for address in addresses:
            try:
                return self.inner.connect_tcp(
                    str(address), port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        assert last_error is not None
        raise last_error

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise httpcore.ConnectError("unix sockets are not used for downloads")

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)
