"""Egress guard: a connection's URL is user input, so private and metadata addresses are refused."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)


class EgressRefused(ValueError):
    """The URL points somewhere Activator may not connect to."""


def _is_private(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return _is_private(address.ipv4_mapped)
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
    )


def check_address(address: IPAddress, *, allow_private: bool, allowed: Sequence[Network]) -> None:
    """Refuse metadata addresses always, private ones unless allowed by settings."""
    if address in METADATA_ADDRESSES or (
        isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped in METADATA_ADDRESSES
    ):
        raise EgressRefused(f"{address} is a cloud metadata address")
    if any(address in network for network in allowed):
        return
    if _is_private(address) and not allow_private:
        raise EgressRefused(f"{address} is a private, loopback or link-local address")


async def check_url(url: str, *, allow_private: bool, allowed: Sequence[Network]) -> None:
    """Resolve the URL's host and check every address it resolves to."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "sftp") or not parts.hostname:
        raise EgressRefused("the URL must be http(s) with a host name")
    host = parts.hostname
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, parts.port or 443, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise EgressRefused(f"host {host!r} does not resolve") from exc
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    for address in addresses:
        check_address(address, allow_private=allow_private, allowed=allowed)
