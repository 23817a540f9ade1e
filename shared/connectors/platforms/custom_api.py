"""Any REST API with the seed's segment shape: health, create, update, delete, get."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from shared.connectors.auth import build_auth
from shared.connectors.credentials import (
    ApiKeyCredentials,
    HeaderCredentials,
    NoCredentials,
    OAuth2Credentials,
)
from shared.connectors.deps import ConnectorDeps
from shared.connectors.errors import PlatformError
from shared.connectors.failures import require_segment_id
from shared.connectors.http import PlatformHttp
from shared.connectors.http_settings import HttpSettings
from shared.connectors.outbound_config import AbsoluteUrl, OutboundConfig, UrlPath
from shared.connectors.platform_entry import PlatformEntry, ValidatedConnection
from shared.connectors.protocol import (
    ConnectionTestResult,
    CreateSegmentParams,
    PlatformSegment,
    UpdateSegmentParams,
)
from shared.connectors.rest_segment import get_rest_segment


class CustomApiConfig(OutboundConfig):
    """Config of a `custom_api` connection."""

    api_base_url: AbsoluteUrl
    segments_path: UrlPath = "/segments"
    health_path: UrlPath = "/health"
    api_key_header: str = "X-API-Key"
    # Only for auth type oauth2.
    token_url: AbsoluteUrl | None = None
    scope: str | None = None


class CustomApiClient:
    """PlatformClient for the seed's REST shape."""

    def __init__(self, http: PlatformHttp, config: CustomApiConfig) -> None:
        self._http = http
        self._config = config

    async def test_connection(self) -> ConnectionTestResult:
        """GET the health path."""
        try:
            await self._http.request("GET", self._config.health_path)
        except PlatformError as exc:
            return ConnectionTestResult(success=False, error=exc.message)
        return ConnectionTestResult(success=True)

    async def create_segment(self, params: CreateSegmentParams) -> str:
        """POST a segment; the external key as Idempotency-Key makes a repeat return the same segment."""
        body = await self._http.request_json(
            "POST",
            self._config.segments_path,
            json={
                "name": params.name,
                "description": params.description,
                "price": params.cpm,
                "currency": params.currency,
                "data_source_location": params.data_source_location,
            },
            headers={"Idempotency-Key": params.external_key},
        )
        return require_segment_id(body)

    async def update_segment(self, platform_segment_id: str, params: UpdateSegmentParams) -> None:
        """PUT name, description and, when given, price."""
        body: dict[str, Any] = {"name": params.name, "description": params.description}
        if params.cpm is not None:
            body["price"] = params.cpm
        await self._http.request("PUT", self._segment_path(platform_segment_id), json=body)

    async def deactivate_segment(self, platform_segment_id: str) -> None:
        """DELETE the segment (the platform marks it inactive)."""
        await self._http.request("DELETE", self._segment_path(platform_segment_id))

    async def get_segment(self, platform_segment_id: str) -> PlatformSegment | None:
        """GET the segment; None on 404."""
        return await get_rest_segment(self._http, self._segment_path(platform_segment_id))

    async def aclose(self) -> None:
        """Close the HTTP pool."""
        await self._http.aclose()

    def _segment_path(self, platform_segment_id: str) -> str:
        return f"{self._config.segments_path}/{quote(platform_segment_id, safe='')}"


def build_client(
    connection: ValidatedConnection[CustomApiConfig], settings: HttpSettings, deps: ConnectorDeps
) -> CustomApiClient:
    """A CustomApiClient over its own HTTP pool."""
    config = connection.config
    auth = build_auth(
        connection.auth_type,
        connection.credentials,
        api_key_header=config.api_key_header,
        token_url=config.token_url,
        scope=config.scope,
        clock=deps.clock,
    )
    http = PlatformHttp(
        platform="custom_api",
        base_url=config.api_base_url,
        settings=settings,
        auth=auth,
        deps=deps,
    )
    return CustomApiClient(http, config)


PLATFORM = PlatformEntry(
    name="custom_api",
    config_model=CustomApiConfig,
    credentials_models={
        "api_key": ApiKeyCredentials,
        "bearer": ApiKeyCredentials,
        "header": HeaderCredentials,
        "none": NoCredentials,
        "oauth2": OAuth2Credentials,
    },
    build=build_client,
    required_config={"oauth2": ("token_url",)},
)
