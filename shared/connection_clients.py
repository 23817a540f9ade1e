"""Builds a connection's platform client with the egress guard and the connection's budget wired in."""

from __future__ import annotations

from shared.connectors.deps import ConnectorDeps, SegmentLookup, no_recorded_segment
from shared.connectors.factory import create_platform_client
from shared.connectors.http import HttpSettings
from shared.connectors.protocol import PlatformClient
from shared.connectors.throttle import ConnectionThrottle
from shared.db.connections import Connection
from shared.egress import check_url
from shared.settings import Settings


def egress_deps(settings: Settings) -> ConnectorDeps:
    """Connector seams that refuse private and metadata addresses as the settings say."""

    async def guard(origin: str) -> None:
        await check_url(
            origin,
            allow_private=settings.activator_egress_allow_private,
            allowed=settings.egress_allowed_networks,
        )

    return ConnectorDeps(url_guard=guard)


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
    base = egress_deps(settings)
    deps = ConnectorDeps(url_guard=base.url_guard, throttle=throttle, segment_lookup=segment_lookup)
    return create_platform_client(
        connection.platform,
        connection.auth_type,
        credentials,
        connection.config,
        settings=http or settings.http(),
        deps=deps,
    )
