"""The egress guard: a connection's URL is user input, so where it may lead is checked, and checked again.

Names are resolved by an injected resolver (no DNS needed); only `localhost` and numeric forms go to
the system resolver, which answers them offline.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable

import httpcore
import httpx
import pytest

from shared.connectors import ConnectorDeps, ErrorClass, HttpSettings, PlatformError
from shared.connectors.http import PlatformHttp
from shared.egress import (
    EgressPolicy,
    EgressRefused,
    GuardedNetworkBackend,
    GuardedTransport,
    Network,
    check_url,
)

NOT_PUBLIC = [
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "127.0.0.1",
    "127.8.9.10",
    "0.0.0.0",  # noqa: S104 - an address to refuse, not one to bind
    "169.254.1.1",
    "100.64.0.1",  # carrier-grade NAT, also used inside clouds
    "198.18.0.1",
    "224.0.0.1",
    "255.255.255.255",
    "::1",
    "::",
    "fc00::1",
    "fd12:3456::1",
    "fe80::1",
    "fec0::1",  # deprecated site-local
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:10.0.0.1",
    "::7f00:1",  # IPv4-compatible (deprecated) 127.0.0.1
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:c0a8:101::1",  # 6to4 of 192.168.1.1
]
METADATA = [
    "169.254.169.254",
    "fd00:ec2::254",
    "::ffff:169.254.169.254",
    "64:ff9b::a9fe:a9fe",
    "2002:a9fe:a9fe::1",
    "169.254.170.2",
    "100.100.100.200",
]
PUBLIC = ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "2002:808:808::1"]


def _url(address: str) -> str:
    host = f"[{address}]" if ":" in address else address
    return f"https://{host}/segments"


class Resolver:
    """DNS as a test wants it: each name answers its addresses, one answer per lookup for rebinding."""

    def __init__(self, answers: dict[str, list[list[str]]]) -> None:
        self.answers = answers
        self.lookups: list[str] = []

    async def __call__(self, host: str, _port: int) -> list[str]:
        self.lookups.append(host)
        answers = self.answers.get(host)
        if not answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return answers.pop(0) if len(answers) > 1 else answers[0]


@pytest.mark.parametrize("address", NOT_PUBLIC)
async def test_private_loopback_link_local_and_reserved_addresses_are_refused(address: str) -> None:
    with pytest.raises(EgressRefused, match="private, loopback or link-local"):
        await check_url(_url(address), allow_private=False, allowed=())


@pytest.mark.parametrize("address", NOT_PUBLIC)
async def test_the_operator_may_allow_private_addresses(address: str) -> None:
    await check_url(_url(address), allow_private=True, allowed=())


@pytest.mark.parametrize("address", METADATA)
async def test_metadata_addresses_are_refused_always(address: str) -> None:
    everything: list[Network] = [ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")]
    with pytest.raises(EgressRefused, match="metadata"):
        await check_url(_url(address), allow_private=True, allowed=everything)


@pytest.mark.parametrize("address", PUBLIC)
async def test_public_addresses_pass(address: str) -> None:
    assert await check_url(_url(address), allow_private=False, allowed=()) == [ipaddress.ip_address(address)]


async def test_a_cidr_allow_list_admits_its_range_only_in_either_notation() -> None:
    allowed: list[Network] = [ipaddress.ip_network("10.1.0.0/16")]
    await check_url("http://10.1.2.3:8080/", allow_private=False, allowed=allowed)
    await check_url("http://[::ffff:10.1.2.3]:8080/", allow_private=False, allowed=allowed)
    with pytest.raises(EgressRefused):
        await check_url("http://10.2.0.1/", allow_private=False, allowed=allowed)


async def test_a_link_local_address_with_a_zone_is_refused() -> None:
    with pytest.raises(EgressRefused):
        await check_url("http://[fe80::1%25eth0]:80/", allow_private=False, allowed=())


@pytest.mark.parametrize("host", ["localhost", "0177.0.0.1", "2130706433", "0x7f.1", "127.1", "0"])
async def test_names_and_numeric_spellings_of_loopback_are_refused(host: str) -> None:
    # The system resolver answers these offline (inet_aton forms included).
    with pytest.raises(EgressRefused):
        await check_url(f"http://{host}:8080/", allow_private=False, allowed=())


@pytest.mark.parametrize(
    ("answer", "allow_private"),
    [
        (["10.0.0.5"], False),
        (["93.184.216.34", "10.0.0.5"], False),  # one private address among public ones is enough
        (["2606:4700::1", "::1"], False),
        (["::ffff:192.168.0.1"], False),
        (["169.254.169.254"], True),  # metadata even where private addresses are allowed
        (["fd00:ec2::254"], True),
    ],
)
async def test_a_name_resolving_to_a_refused_address_is_refused(
    answer: list[str], allow_private: bool
) -> None:
    policy = EgressPolicy(allow_private=allow_private, resolve=Resolver({"segments.example": [answer]}))
    with pytest.raises(EgressRefused):
        await policy.check_url("https://segments.example/v1")


async def test_a_name_that_does_not_resolve_is_refused() -> None:
    policy = EgressPolicy(resolve=Resolver({"empty.example": [[]]}))
    for url in ("https://nowhere.example/", "https://empty.example/"):
        with pytest.raises(EgressRefused, match="does not resolve"):
            await policy.check_url(url)


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "gopher://10.0.0.1/", "ftp://93.184.216.34/", "http:///path", "http://h:99999/"],
)
async def test_only_http_and_sftp_urls_with_a_host_and_a_valid_port(url: str) -> None:
    with pytest.raises(EgressRefused):
        await check_url(url, allow_private=True, allowed=())


class RecordingBackend(httpcore.AsyncNetworkBackend):
    """Stands in for the socket layer: remembers where it was asked to connect, connects nowhere."""

    def __init__(self) -> None:
        self.connects: list[tuple[str, int]] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ARG002 - the backend's signature
        local_address: str | None = None,  # noqa: ARG002
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,  # noqa: ARG002
    ) -> httpcore.AsyncNetworkStream:
        self.connects.append((host, port))
        raise httpcore.ConnectError("recorded, not connected")

    async def sleep(self, seconds: float) -> None:  # noqa: ARG002
        return None


async def test_dns_rebinding_is_caught_when_the_connection_is_made() -> None:
    # Public for the check before the first request, loopback a moment later when connecting.
    resolver = Resolver({"rebind.example": [["93.184.216.34"], ["127.0.0.1"]]})
    policy = EgressPolicy(resolve=resolver)
    sockets = RecordingBackend()
    await policy.check_url("https://rebind.example/")
    with pytest.raises(EgressRefused, match=r"127\.0\.0\.1"):
        await GuardedNetworkBackend(policy, sockets).connect_tcp("rebind.example", 443)
    assert sockets.connects == []
    assert resolver.lookups == ["rebind.example", "rebind.example"]


async def test_a_connection_goes_to_the_address_that_was_checked() -> None:
    sockets = RecordingBackend()
    resolver = Resolver({"api.example": [["93.184.216.34", "2606:4700::1"]]})
    with pytest.raises(httpcore.ConnectError):
        await GuardedNetworkBackend(EgressPolicy(resolve=resolver), sockets).connect_tcp("api.example", 443)
    assert sockets.connects == [("93.184.216.34", 443), ("2606:4700::1", 443)]  # never the name itself


async def test_a_platform_call_to_a_rebound_name_fails_permanently_and_sends_nothing() -> None:
    resolver = Resolver({"rebind.example": [["93.184.216.34"], ["169.254.169.254"]]})
    policy = EgressPolicy(allow_private=True, resolve=resolver)

    async def guard(origin: str) -> None:
        await policy.check_url(origin)

    http = PlatformHttp(
        platform="test",
        base_url="http://rebind.example",
        settings=HttpSettings(max_attempts=3),
        deps=ConnectorDeps(
            url_guard=guard,
            transport=GuardedTransport(policy, limits=httpx.Limits(max_connections=2)),
        ),
    )
    try:
        with pytest.raises(PlatformError) as caught:
            await http.request("GET", "/health")
    finally:
        await http.aclose()
    assert caught.value.error_class is ErrorClass.PERMANENT
    assert caught.value.message == "egress refused: 169.254.169.254 is a cloud metadata address"
    assert len(resolver.lookups) == 2  # refused at once, not retried
