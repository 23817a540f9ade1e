"""/api/keys: the caller's org's API keys — list, create of a scope, rotate, revoke (never the last admin key).

Changes need an `admin` key; a `read` key may list them like every GET (prefixes and scopes, no secret).
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response

from services.gateway.console.sessions import current_session, has_session_cookie
from services.gateway.deps import OrgId, Pool
from services.gateway.problems import Problem, not_found
from services.gateway.schemas import ApiKeyCreated, ApiKeyInput, ApiKeyOut
from shared.db import orgs
from shared.db.pool import PgPool

router = APIRouter(prefix="/api/keys", tags=["api keys"])

_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"description": "The key is the org's last admin key, or the one this request uses"}
}


async def _caller_key_id(request: Request, pool: PgPool) -> uuid.UUID | None:
    """The key this request is authenticated by: its Bearer key, or the key its console session was opened with."""
    if "authorization" not in request.headers and has_session_cookie(request):
        return await orgs.console_session_key_id(pool, (await current_session(request, pool)).id)
    _scheme, _, api_key = request.headers.get("authorization", "").partition(" ")
    return await orgs.live_key_id(pool, api_key.strip())


def _out(record: orgs.ApiKeyRecord, caller_key_id: uuid.UUID | None) -> ApiKeyOut:
    return ApiKeyOut(
        id=record.id,
        prefix=record.prefix,
        scope=record.scope,
        created_at=record.created_at,
        in_use=record.id == caller_key_id,
    )


def _created(
    response: Response, record: orgs.ApiKeyRecord, secret: str, replaced: uuid.UUID | None
) -> ApiKeyCreated:
    response.headers["Cache-Control"] = "no-store"  # the one answer carrying a secret
    return ApiKeyCreated(key=_out(record, None), secret=secret, replaced_key_id=replaced)


@router.get("")
async def list_keys(request: Request, org_id: OrgId, pool: Pool) -> list[ApiKeyOut]:
    """The org's live keys, newest first: id, prefix, scope, creation time, and which one this request uses."""
    caller = await _caller_key_id(request, pool)
    return [_out(record, caller) for record in await orgs.list_api_keys(pool, org_id)]


@router.post("", status_code=201)
async def create_key(body: ApiKeyInput, response: Response, org_id: OrgId, pool: Pool) -> ApiKeyCreated:
    """A new key of `scope`; its `secret` is in this answer only (the gateway keeps a digest)."""
    record, secret = await orgs.create_api_key(pool, org_id, body.scope)
    return _created(response, record, secret, None)


@router.post("/{key_id}/rotate", status_code=201)
async def rotate_key(key_id: uuid.UUID, response: Response, org_id: OrgId, pool: Pool) -> ApiKeyCreated:
    """Replace a key by a new one of its scope: the old one stops working now (a console session opened
    with it ends), the new `secret` is in this answer only."""
    rotated = await orgs.rotate_api_key(pool, org_id, key_id)
    if rotated is None:
        raise not_found("API key")
    record, secret = rotated
    return _created(response, record, secret, key_id)


@router.delete("/{key_id}", status_code=204, responses=_CONFLICT)
async def revoke_key(key_id: uuid.UUID, request: Request, org_id: OrgId, pool: Pool) -> Response:
    """Revoke a key; refused (409) for the org's last admin key and for the key this request uses."""
    outcome = await orgs.revoke_api_key(pool, org_id, key_id, in_use=await _caller_key_id(request, pool))
    if outcome is orgs.KeyRevocation.NOT_FOUND:
        raise not_found("API key")
    if outcome is orgs.KeyRevocation.LAST_ADMIN:
        raise Problem(
            409,
            "Last admin key",
            "That is the org's last admin key: create another admin key before revoking it (or rotate it)",
        )
    if outcome is orgs.KeyRevocation.IN_USE:
        raise Problem(
            409,
            "Key in use",
            "This request is authenticated by that key (or a console session opened with it): "
            "revoke it with another admin key, or rotate it",
        )
    return Response(status_code=204)
