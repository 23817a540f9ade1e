"""LiveRamp's OAuth2 token endpoint: client-credentials and password grants, form-encoded (RFC 6749)."""

from __future__ import annotations

import base64
import binascii
import secrets
from urllib.parse import parse_qs, unquote

from fastapi import APIRouter, Request, Response
from starlette.responses import JSONResponse

from services.mock_platforms.credentials import Tenant, find_tenant
from services.mock_platforms.platform_errors import PlatformHTTPError
from services.mock_platforms.platforms import Platform
from services.mock_platforms.state import MockState, TokenGrant

PLATFORM = Platform.LIVERAMP
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _oauth_error(status: int, code: str, description: str) -> PlatformHTTPError:
    return PlatformHTTPError(status, {"error": code, "error_description": description}, _NO_STORE)


def _basic_client(authorization: str) -> tuple[str, str] | None:
    """client_secret_basic: `Authorization: Basic base64(client_id:client_secret)`."""
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, _, client_secret = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return unquote(client_id), unquote(client_secret)


async def _form(request: Request) -> dict[str, str]:
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("application/x-www-form-urlencoded"):
        raise _oauth_error(400, "invalid_request", "the token request must be form-encoded")
    fields = parse_qs((await request.body()).decode(errors="replace"), keep_blank_values=True)
    return {name: values[-1] for name, values in fields.items()}


def _authenticate(tenants: list[Tenant], form: dict[str, str], basic: tuple[str, str] | None) -> Tenant:
    client_id, client_secret = basic or (form.get("client_id", ""), form.get("client_secret", ""))
    grant_type = form.get("grant_type")
    if grant_type == "client_credentials":
        tenant = find_tenant(tenants, client_id=client_id, client_secret=client_secret)
        if tenant is None:
            raise _oauth_error(401, "invalid_client", "client authentication failed")
        return tenant
    if grant_type == "password":
        username, password = form.get("username", ""), form.get("password", "")
        if not username or not password:
            raise _oauth_error(400, "invalid_request", "username and password are required")
        tenant = find_tenant(tenants, username=username, password=password)
        if tenant is None:
            raise _oauth_error(400, "invalid_grant", "the resource owner credentials are invalid")
        if client_id and tenant.get("client_id", client_id) != client_id:
            raise _oauth_error(401, "invalid_client", "client authentication failed")
        return tenant
    if not grant_type:
        raise _oauth_error(400, "invalid_request", "grant_type is required")
    raise _oauth_error(400, "unsupported_grant_type", f"grant_type {grant_type!r} is not supported")


def build_liveramp_oauth_router(state: MockState) -> APIRouter:
    router = APIRouter(prefix="/liveramp/oauth2", tags=["liveramp"])

    @router.post("/token")
    async def issue_token(request: Request) -> Response:
        form = await _form(request)
        basic = _basic_client(request.headers.get("authorization", ""))
        tenant = _authenticate(state.platforms[PLATFORM].tenants, form, basic)
        store = state.liveramp
        token = secrets.token_urlsafe(32)
        store.tokens[token] = TokenGrant(
            expires_at=state.clock() + store.token_ttl_s, org_id=tenant.get("org_id") or None
        )
        answer: dict[str, object] = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": store.token_ttl_s,
        }
        if form.get("scope"):
            answer["scope"] = form["scope"]
        return JSONResponse(answer, headers=_NO_STORE)

    return router
