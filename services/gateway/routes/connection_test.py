"""POST /api/connections/{id}/test: each direction of the connection checked, nothing changed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

from fastapi import APIRouter
from pydantic import ValidationError

from services.gateway.deps import AppSettings, OrgId, Pool
from services.gateway.problems import not_found
from services.gateway.schemas import ConnectionCheckOut, ConnectionTestOut
from shared.connections.clients import build_connection_source, build_platform_client
from shared.connectors.errors import ConnectorConfigError
from shared.connectors.http_settings import HttpSettings
from shared.connectors.protocol import ConnectionTestResult
from shared.db import connections as repo
from shared.inbound.config import InboundConfig
from shared.inbound.probe import probe_source
from shared.settings import Settings

router = APIRouter(prefix="/api/connections", tags=["connections"])

_INBOUND = ("inbound", "bidirectional")
_OUTBOUND = ("outbound", "bidirectional")


async def _outbound(
    settings: Settings, connection: repo.Connection, credentials: dict[str, str], http: HttpSettings
) -> ConnectionTestResult:
    try:
        client = build_platform_client(settings, connection, credentials, http=http)
    except ConnectorConfigError as exc:
        return ConnectionTestResult(success=False, error=str(exc))
    try:
        return await client.test_connection()
    finally:
        await client.aclose()


async def _inbound(
    settings: Settings, connection: repo.Connection, credentials: dict[str, str], http: HttpSettings
) -> ConnectionTestResult:
    try:
        config = InboundConfig.model_validate(connection.config)
    except ValidationError as exc:
        return ConnectionTestResult(success=False, error=f"inbound config: {exc.error_count()} error(s)")
    # The smallest page a source can send: the probe reads, it does not sync.
    smallest = config.pagination_params.model_copy(update={"page_size": 1})
    config = config.model_copy(update={"pagination_params": smallest})
    try:
        source = build_connection_source(settings, connection, config, credentials, http=http)
    except ConnectorConfigError as exc:
        return ConnectionTestResult(success=False, error=str(exc))
    try:
        return await probe_source(source, has_count_endpoint=bool(config.count_endpoint))
    finally:
        await source.aclose()


async def _within(check: Awaitable[ConnectionTestResult], timeout_s: float) -> ConnectionTestResult:
    try:
        return await asyncio.wait_for(check, timeout=timeout_s)
    except TimeoutError:
        return ConnectionTestResult(success=False, error=f"no answer within {timeout_s:g} s")


Check = Callable[[Settings, repo.Connection, dict[str, str], HttpSettings], Awaitable[ConnectionTestResult]]


@router.post("/{connection_id}/test")
async def test_connection(
    connection_id: uuid.UUID, org_id: OrgId, pool: Pool, settings: AppSettings
) -> ConnectionTestOut:
    """Check credentials and reachability of each direction (outbound: the platform's read-only check;
    inbound: the count endpoint, else a first page of one record) without changing anything."""
    connection = await repo.get_connection(pool, org_id, connection_id)
    if connection is None:
        raise not_found("connection")
    credentials = await repo.decrypt_credentials(
        pool,
        org_id,
        connection_id,
        settings.require_encryption_key(),
        fallback_keys=settings.previous_encryption_keys(),
    )
    # One attempt within the guide's per-request timeout: a test reports, it does not retry.
    http = settings.http().model_copy(update={"max_attempts": 1})
    checks: list[tuple[str, Check]] = []
    if connection.direction in _OUTBOUND:
        checks.append(("outbound", _outbound))
    if connection.direction in _INBOUND:
        checks.append(("inbound", _inbound))
    results = await asyncio.gather(
        *(_within(check(settings, connection, credentials, http), http.timeout_s + 1) for _, check in checks)
    )
    out = [
        ConnectionCheckOut(direction=direction, success=result.success, error=result.error)
        for (direction, _), result in zip(checks, results, strict=True)
    ]
    failed = [check for check in out if not check.success]
    error = None
    if failed:
        error = "; ".join(
            check.error or "failed" if len(out) == 1 else f"{check.direction}: {check.error}"
            for check in failed
        )
    return ConnectionTestOut(success=not failed, error=error, checks=out)
