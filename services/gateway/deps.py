"""FastAPI dependencies as Annotated aliases: the pool, the settings, the caller's org."""

from __future__ import annotations

import time
import uuid
from typing import Annotated

from fastapi import Depends, Query, Request
from faststream.kafka import KafkaBroker

from services.gateway.console.sessions import has_session_cookie, session_org_id
from services.gateway.problems import Problem
from services.gateway.view_tokens import verify_with_any
from shared.db.orgs import org_for_api_key
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


async def _org_id(request: Request, pool: Pool) -> uuid.UUID:
    # The console's cookie only when no Authorization header is sent: a Bearer key is always checked as one.
    if "authorization" not in request.headers and has_session_cookie(request):
        return await session_org_id(request, pool)
    header = request.headers.get("authorization", "")
    scheme, _, api_key = header.partition(" ")
    if scheme.lower() != "bearer" or not api_key.strip():
        raise Problem(401, "Unauthorized", "Send Authorization: Bearer <api key>")
    org_id = await org_for_api_key(pool, api_key.strip())
    if org_id is None:
        raise Problem(401, "Unauthorized", "The API key is unknown or revoked")
    return org_id


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
