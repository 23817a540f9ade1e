"""The Trade Desk's auth: a `TTD-Auth` token, pasted or minted from a login, and the tenant's own provider only.

A tenant is `{api_key}` (a token pasted from TTD's UI), `{login, password}` (which mint tokens through
`POST /v3/authentication`), or both, optionally with `provider_id`.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from services.mock_platforms.credentials import Tenant, find_tenant
from services.mock_platforms.json_bodies import read_model
from services.mock_platforms.platform_errors import PlatformHTTPError
from services.mock_platforms.platforms import Platform
from services.mock_platforms.state import MintedToken, MockState

PLATFORM = Platform.TRADEDESK
# TTD: an API-minted token lives TokenExpirationInMinutes, 1,440 (24 hours) by default and at most.
_MAX_TOKEN_MINUTES = 1440


class AuthenticationRequest(BaseModel):
    """`POST /v3/authentication`, with TTD's PascalCase fields."""

    Login: Annotated[str, StringConstraints(min_length=1)]
    Password: Annotated[str, StringConstraints(min_length=1)]
    TokenExpirationInMinutes: int = Field(default=_MAX_TOKEN_MINUTES, ge=1, le=_MAX_TOKEN_MINUTES)


def _unauthorized() -> PlatformHTTPError:
    return PlatformHTTPError(401, {"Message": "Invalid or expired token"})


async def mint_token(state: MockState, request: Request) -> Response:
    """A token for a tenant's login and password, valid for the minutes asked; 401 for another login."""
    body = await read_model(request, AuthenticationRequest, PLATFORM)
    tenant = find_tenant(state.platforms[PLATFORM].tenants, login=body.Login, password=body.Password)
    if tenant is None:
        # TTD's wording for a refused login is not public; this one is the fake's.
        raise PlatformHTTPError(401, {"Message": "Invalid login or password"})
    token = secrets.token_urlsafe(32)
    expires_at = state.clock() + body.TokenExpirationInMinutes * 60
    state.tradedesk.tokens[token] = MintedToken(expires_at=expires_at, tenant=tenant)
    return JSONResponse({"Token": token})


def authorize(state: MockState, request: Request) -> Tenant:
    """The tenant of the request's `TTD-Auth`: a live minted token or a tenant's `api_key`; else 401."""
    token = request.headers.get("ttd-auth", "")
    minted = state.tradedesk.tokens.get(token)
    if minted is not None:
        # Checked before the open default: an expired token is refused even with no tenant registered.
        if minted.expires_at <= state.clock():
            raise _unauthorized()
        return minted.tenant
    tenant = find_tenant(state.platforms[PLATFORM].tenants, api_key=token)
    if tenant is None:
        raise _unauthorized()
    return tenant


def authorize_provider(tenant: Tenant, provider_id: str) -> None:
    if tenant.get("provider_id", provider_id) != provider_id:
        raise PlatformHTTPError(403, {"Message": f"Not authorized for provider {provider_id!r}"})
