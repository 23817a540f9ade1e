"""The Trade Desk's auth: a `TTD-Auth` token, and, when the tenant names one, its own provider only."""

from __future__ import annotations

from starlette.requests import Request

from services.mock_platforms.credentials import Tenant, find_tenant
from services.mock_platforms.platform_errors import PlatformHTTPError
from services.mock_platforms.platforms import Platform
from services.mock_platforms.state import MockState


def authorize(state: MockState, request: Request) -> Tenant:
    tenant = find_tenant(
        state.platforms[Platform.TRADEDESK].tenants, api_key=request.headers.get("ttd-auth", "")
    )
    if tenant is None:
        raise PlatformHTTPError(401, {"Message": "Invalid or expired token"})
    return tenant


def authorize_provider(tenant: Tenant, provider_id: str) -> None:
    if tenant.get("provider_id", provider_id) != provider_id:
        raise PlatformHTTPError(403, {"Message": f"Not authorized for provider {provider_id!r}"})
