"""Acme DSP: the worked example of docs/adding-a-platform.md, tested but not registered in PLATFORMS."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from pydantic import Field

from shared.connectors.auth import bearer_auth
from shared.connectors.credentials import ApiKeyCredentials
from shared.connectors.deps import ConnectorDeps
from shared.connectors.errors import PlatformError
from shared.connectors.failures import malformed, require_segment_id
from shared.connectors.http import PlatformHttp
from shared.connectors.http_settings import HttpSettings
from shared.connectors.outbound_config import AbsoluteUrl, OutboundConfig
from shared.connectors.platform_entry import PlatformEntry, ValidatedConnection
from shared.connectors.protocol import (
    ConnectionTestResult,
    CreateSegmentParams,
    PlatformSegment,
    UpdateSegmentParams,
)

_AUDIENCES = "/v1/audiences"
# Acme's audience states, in the words the rest of Activator uses.
_STATUS = {"live": "active", "archived": "inactive"}


class AcmeDspConfig(OutboundConfig):
    """Config of an `acme_dsp` connection; `default_cpm` and `currency` come from OutboundConfig."""

    api_base_url: AbsoluteUrl
    account_id: str = Field(min_length=1)


class AcmeDspClient:
    """PlatformClient for Acme DSP's audience API."""

    def __init__(self, http: PlatformHttp) -> None:
        self._http = http

    async def test_connection(self) -> ConnectionTestResult:
        """GET /v1/ping: checks the token and the account, changes nothing."""
        try:
            await self._http.request("GET", "/v1/ping")
        except PlatformError as exc:
            return ConnectionTestResult(success=False, error=exc.message)
        return ConnectionTestResult(success=True)

    async def create_segment(self, params: CreateSegmentParams) -> str:
        """POST an audience; Acme answers a repeated `external_ref` with the audience it already has."""
        body = await self._http.request_json(
            "POST",
            _AUDIENCES,
            json={
                "name": params.name,
                "description": params.description,
                "cpm": params.cpm,
                "currency": params.currency,
                "external_ref": params.external_key,
            },
        )
        return require_segment_id(body, key="audience_id")

    async def update_segment(self, platform_segment_id: str, params: UpdateSegmentParams) -> None:
        """PATCH name and description, and the price when the update carries one."""
        body: dict[str, Any] = {"name": params.name, "description": params.description}
        if params.cpm is not None:
            body["cpm"] = params.cpm
        if params.currency is not None:
            body["currency"] = params.currency
        await self._http.request("PATCH", _audience_path(platform_segment_id), json=body)

    async def deactivate_segment(self, platform_segment_id: str) -> None:
        """POST .../archive: Acme keeps the audience but stops selling it."""
        await self._http.request("POST", f"{_audience_path(platform_segment_id)}/archive")

    async def get_segment(self, platform_segment_id: str) -> PlatformSegment | None:
        """GET the audience; None on 404, any other failure raises."""
        try:
            body = await self._http.request_json("GET", _audience_path(platform_segment_id))
        except PlatformError as exc:
            if exc.status_code == 404:
                return None
            raise
        if not isinstance(body, dict):
            raise malformed("audience is not an object")
        state = str(body.get("state", ""))
        return PlatformSegment(
            id=require_segment_id(body, key="audience_id"),
            name=str(body.get("name", "")),
            status=_STATUS.get(state, state),
        )

    async def aclose(self) -> None:
        """Close the HTTP pool."""
        await self._http.aclose()


def _audience_path(platform_segment_id: str) -> str:
    # Ids come from the platform: encode them so one cannot change the path.
    return f"{_AUDIENCES}/{quote(platform_segment_id, safe='')}"


def build_client(
    connection: ValidatedConnection[AcmeDspConfig], settings: HttpSettings, deps: ConnectorDeps
) -> AcmeDspClient:
    """An AcmeDspClient over its own HTTP pool, the account on every request."""
    credentials: ApiKeyCredentials = connection.credentials
    http = PlatformHttp(
        platform="acme_dsp",
        base_url=connection.config.api_base_url,
        settings=settings,
        auth=bearer_auth(credentials),
        default_headers={"Acme-Account": connection.config.account_id},
        deps=deps,
    )
    return AcmeDspClient(http)


PLATFORM = PlatformEntry(
    name="acme_dsp",
    config_model=AcmeDspConfig,
    credentials_models={"bearer": ApiKeyCredentials},
    build=build_client,
)
