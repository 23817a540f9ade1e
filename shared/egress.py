"""Egress guard: a connection's URL is user input, so private and metadata addresses are refused.

Names are checked by what they resolve to, every address of them, and again when a connection is
actually made (`GuardedTransport`): a name that resolved to a public address for the first check
cannot re-resolve to a private one for the connection (DNS rebinding).
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[str]]]

# Instance metadata and credential endpoints: AWS (IMDS, ECS, EKS pod identity), Azure, GCP, Oracle,
# DigitalOcean (169.254.169.254), Alibaba (100.100.100.200).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "169.254.169.254",
        "169.254.170.2",
        "169.254.170.23",
        "100.100.100.200",
        "fd00:ec2::254",
        "fd00:ec2::23",
    )
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


class EgressRefused(ValueError):
    """The URL points somewhere Activator may not connect to."""


class HostUnresolved(EgressRefused):
    """The host has no address (refused when a connection is checked; a network error at connect time)."""


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for `host`."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for: mapped, 6to4, NAT64 or (deprecated) IPv4-compatible."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _IPV4_COMPATIBLE and int(address) > 1:
        return ipaddress.IPv4Address(int(address))
    return None


def _destination(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address):
        return _embedded_ipv4(address) or address
    return address


def _is_public(address: IPAddress) -> bool:
    # is_global alone lets through multicast and IPv6 site-local (fec0::/10) in Python 3.11.
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return False
    return address.is_global and not address.is_multicast and not address.is_reserved


def check_address(address: IPAddress, *, allow_private: bool, allowed: Sequence[Network]) -> None:
    """Refuse metadata addresses always, non-public ones unless allowed by settings.

    An IPv6 address carrying an IPv4 one (::ffff:a.b.c.d, 6to4, NAT64) is judged by the IPv4 one.
    """
    destination = _destination(address)
    if address in METADATA_ADDRESSES or destination in METADATA_ADDRESSES:
        raise EgressRefused(f"{address} is a cloud metadata address")
    if any(destination in network or address in network for network in allowed):
        return
    if not allow_private and not _is_public(destination):
        raise EgressRefused(f"{address} is a private, loopback or link-local address")


@dataclass(frozen=True)
class EgressPolicy:
    """Where connections may go: public addresses, plus private ones when the operator allows them."""

    allow_private: bool = False
    allowed: tuple[Network, ...] = ()
    resolve: Resolver = system_resolver

    async def vetted_addresses(self, host: str, port: int) -> list[IPAddress]:
        """Every address `host` resolves to, once each has passed the checks; refuses if any fails."""
        try:
            addresses = [ipaddress.ip_address(host)]
        except ValueError:
            try:
                resolved = await self.resolve(host, port)
            except (OSError, UnicodeError) as exc:  # socket.gaierror is an OSError
                raise HostUnresolved(f"host {host!r} does not resolve") from exc
            addresses = [ipaddress.ip_address(found.split("%", 1)[0]) for found in resolved]
        if not addresses:
            raise HostUnresolved(f"host {host!r} does not resolve")
        for address in addresses:
            check_address(address, allow_private=self.allow_private, allowed=self.allowed)
        return list(dict.fromkeys(addresses))

    async def check_url(self, url: str) -> list[IPAddress]:
        """Check an http(s) or sftp URL's host; returns the addresses it may be reached at."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https", "sftp") or not parts.hostname:
            raise EgressRefused("the URL must be http(s) with a host name")
        try:
            port = parts.port or (22 if parts.scheme == "sftp" else 80 if parts.scheme == "http" else 443)
        except ValueError as exc:
            raise EgressRefused("the URL's port is not valid") from exc
        return await self.vetted_addresses(parts.hostname, port)


async def check_url(
    url: str, *, allow_private: bool, allowed: Sequence[Network], resolve: Resolver = system_resolver
) -> list[IPAddress]:
    """Resolve the URL's host and check every address it resolves to."""
    return await EgressPolicy(allow_private, tuple(allowed), resolve).check_url(url)


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """Connects only to addresses the policy allows, resolving the name itself at connect time."""

    def __init__(self, policy: EgressPolicy, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self._policy = policy
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Connect to the first reachable vetted address of `host` (TLS still verifies `host`)."""
        try:
            addresses = await self._policy.vetted_addresses(host, port)
        except HostUnresolved as exc:
            raise httpcore.ConnectError(str(exc)) from exc  # DNS may be back on the next attempt
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def sleep(self, seconds: float) -> None:
        """Delegates to the real backend."""
        await self._inner.sleep(seconds)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The process's one TLS client context (certificate verification on, CA bundle loaded once).

    Loading the CA bundle costs tens of milliseconds of CPU; a transport is built per run, so they share it.
    """
    return httpx.create_ssl_context(trust_env=False)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with every connection checked by the egress policy (no proxies from the env)."""

    def __init__(self, policy: EgressPolicy, *, limits: httpx.Limits) -> None:
        super().__init__(verify=tls_context(), limits=limits, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=tls_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedNetworkBackend(policy),
        )
