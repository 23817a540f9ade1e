"""Builds a connection's platform client with the egress guard and the connection's budget wired in."""

from __future__ import annotations

import httpx

from shared.connectors.deps import ConnectorDeps, SegmentLookup, no_recorded_segment
from shared.connectors.factory import create_platform_client
from shared.connectors.http_settings import HttpSettings
from shared.connectors.protocol import PlatformClient
from shared.connectors.throttle import ConnectionThrottle
from shared.db.connections import Connection
from shared.egress import EgressPolicy, GuardedTransport
from shared.inbound.config import InboundConfig
from shared.inbound.pager import Pager, PagingLimits
from shared.inbound.source import InboundSource, build_inbound_source
from shared.settings import Settings


def egress_policy(settings: Settings) -> EgressPolicy:
    """The egress policy the settings describe."""
    return EgressPolicy(
        allow_private=settings.activator_egress_allow_private, allowed=settings.egress_allowed_networks
    )


def egress_deps(settings: Settings, http: HttpSettings | None = None) -> ConnectorDeps:
    """Connector seams that refuse private and metadata addresses as the settings say: each origin is
    checked before its first request, and each connection again as it is made (DNS rebinding)."""
    policy = egress_policy(settings)
    connections = (http or settings.http()).max_connections

    async def guard(origin: str) -> list[str]:
        return [str(address) for address in await policy.check_url(origin)]

    transport = GuardedTransport(
        policy, limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    )
    return ConnectorDeps(url_guard=guard, transport=transport)


def build_platform_client(
    settings: Settings,
    connection: Connection,
    credentials: dict[str, str],
    *,
    http: HttpSettings | None = None,
    throttle: ConnectionThrottle | None = None,
    segment_lookup: SegmentLookup = no_recorded_segment,
) -> PlatformClient:
    """A client for the connection; raises ConnectorConfigError when its config or credentials do not fit."""
    http = http or settings.http()
    base = egress_deps(settings, http)
    deps = ConnectorDeps(
        url_guard=base.url_guard, transport=base.transport, throttle=throttle, segment_lookup=segment_lookup
    )
    return create_platform_client(
        connection.platform, connection.auth_type, credentials, connection.config, settings=http, deps=deps
    )


def build_connection_source(
    settings: Settings,
    connection: Connection,
    config: InboundConfig,
    credentials: dict[str, str],
    *,
    http: HttpSettings | None = None,
) -> InboundSource:
    """The connection's inbound source; raises ConnectorConfigError when its credentials do not fit."""
    return build_inbound_source(
        config,
        connection.auth_type,
        credentials,
        settings=http or settings.http(),
        deps=egress_deps(settings, http),
        pager=Pager(config, PagingLimits(max_empty_pages=settings.sync_max_empty_pages)),
    )
