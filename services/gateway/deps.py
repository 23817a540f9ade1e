"""FastAPI dependencies as Annotated aliases: the pool, the settings, the caller's org."""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.routing import APIRoute
from faststream.kafka import KafkaBroker

from services.gateway.console.sessions import (
    SAFE_METHODS,
    current_session,
    has_session_cookie,
    session_org_id,
)
from services.gateway.problems import Problem
from services.gateway.view_tokens import verify_with_any
from shared.db.orgs import KeyGrant, KeyScope, grant_for_api_key
from shared.db.pool import PgPool
from shared.settings import Settings


def _pool(request: Request) -> PgPool:
    pool: PgPool = request.app.state.pool
    return pool


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _broker(request: Request) -> KafkaBroker:
    broker: KafkaBroker = request.app.state.broker
    return broker


Pool = Annotated[PgPool, Depends(_pool)]
AppSettings = Annotated[Settings, Depends(_settings)]
Broker = Annotated[KafkaBroker, Depends(_broker)]


SCOPE_EXTENSION = "x-activator-scope"
READ_SCOPE_OPERATION: dict[str, Any] = {SCOPE_EXTENSION: "read"}
"""`openapi_extra` of the few non-GET routes a `read` key may call too: reads that take a body, or that
mint a read credential. The OpenAPI document shows the mark, so a client can tell."""


def require_scope(request: Request, grant: KeyGrant) -> None:
    """The one check of a key's scope: a `read` key (or its console session) may only read, else a 403."""
    if grant.scope == KeyScope.ADMIN or request.method in SAFE_METHODS:
        return
    route = request.scope.get("route")
    if isinstance(route, APIRoute) and (route.openapi_extra or {}).get(SCOPE_EXTENSION) == "read":
        return
    raise Problem(
        403,
        "Forbidden",
        f"This API key has scope {grant.scope.value!r}: it may read, not change anything; "
        f"{request.method} needs a key of scope {KeyScope.ADMIN.value!r}",
    )


async def _grant(request: Request, pool: PgPool) -> KeyGrant:
    # The console's cookie only when no Authorization header is sent: a Bearer key is always checked as one.
    if "authorization" not in request.headers and has_session_cookie(request):
        org_id = await session_org_id(request, pool)
        return KeyGrant(org_id, (await current_session(request, pool)).scope)
    header = request.headers.get("authorization", "")
    scheme, _, api_key = header.partition(" ")
    if scheme.lower() != "bearer" or not api_key.strip():
        raise Problem(401, "Unauthorized", "Send Authorization: Bearer <api key>")
    grant = await grant_for_api_key(pool, api_key.strip())
    if grant is None:
        raise Problem(401, "Unauthorized", "The API key is unknown or revoked")
    return grant


async def _org_id(request: Request, pool: Pool) -> uuid.UUID:
    grant = await _grant(request, pool)
    require_scope(request, grant)
    return grant.org_id


OrgId = Annotated[uuid.UUID, Depends(_org_id)]


async def _run_viewer_org_id(
    request: Request,
    run_id: uuid.UUID,
    pool: Pool,
    settings: AppSettings,
    token: Annotated[
        str | None,
        Query(description="A view token from POST /api/runs/{runId}/view-token, instead of a Bearer key."),
    ] = None,
) -> uuid.UUID:
    if token is None:
        return await _org_id(request, pool)
    # Tokens minted before a key rotation stay valid while the previous key is configured.
    keys = (settings.require_encryption_key(), *settings.previous_encryption_keys())
    org_id = verify_with_any(keys, token, run_id, time.time())
    if org_id is None:
        raise Problem(401, "Unauthorized", "The view token is invalid, expired or for another run")
    return org_id


RunViewerOrgId = Annotated[uuid.UUID, Depends(_run_viewer_org_id)]
"""The org of a Bearer key, or of a view token minted for the run of the path (browser pages)."""
