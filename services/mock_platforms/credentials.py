"""Which credentials a platform accepts: the tenants registered for it, or any when none are."""

from __future__ import annotations

from collections.abc import Mapping

from services.mock_platforms.platform_errors import PlatformHTTPError

Tenant = dict[str, str]


def header_tenant_matches(tenant: Mapping[str, str], headers: Mapping[str, str]) -> bool:
    """Custom API and DMP: `{api_key}` as a bearer token or in its header, else every pair as a header.

    An `api_key` tenant may name its header with `api_key_header` (default `X-API-Key`).
    An empty tenant (`{}`) lets requests without credentials in (auth type `none`).
    """
    if "api_key" in tenant:
        key = tenant["api_key"]
        header = tenant.get("api_key_header", "X-API-Key")
        return headers.get("authorization") == f"Bearer {key}" or headers.get(header) == key
    return all(headers.get(name) == value for name, value in tenant.items())


def headers_accepted(tenants: list[Tenant], headers: Mapping[str, str]) -> bool:
    # With no tenant registered the fake is open, so auth type `none` works out of the box.
    return not tenants or any(header_tenant_matches(tenant, headers) for tenant in tenants)


def require_header_credentials(tenants: list[Tenant], headers: Mapping[str, str]) -> None:
    """Custom API and DMP: a 401 unless the headers carry a registered tenant's credentials."""
    if not headers_accepted(tenants, headers):
        raise PlatformHTTPError(401, {"error": "unauthorized", "message": "missing or invalid credentials"})


def find_tenant(tenants: list[Tenant], **wanted: str) -> Tenant | None:
    """The tenant whose fields equal every wanted value; with none registered, any non-empty values pass."""
    if not tenants:
        return {} if all(wanted.values()) else None
    for tenant in tenants:
        if all(tenant.get(name) == value for name, value in wanted.items()):
            return tenant
    return None
