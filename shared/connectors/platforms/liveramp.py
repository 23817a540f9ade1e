"""LiveRamp: OAuth2-authenticated segment API scoped by the LR-Org-Id header."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal
from urllib.parse import quote

from shared.connectors.auth import OAuth2Auth
from shared.connectors.credentials import OAuth2Credentials
from shared.connectors.deps import ConnectorDeps
from shared.connectors.errors import PlatformError
from shared.connectors.failures import require_segment_id
from shared.connectors.http import PlatformHttp
from shared.connectors.http_settings import HttpSettings
from shared.connectors.platform_entry import PlatformEntry, ValidatedConnection
from shared.connectors.platforms.liveramp_rules import (
    LiveRampConfig,
    activation_segment,
    create_body,
    frozen_price,
    pricing,
    segment_terms,
)
from shared.connectors.protocol import (
    ConnectionTestResult,
    CreateSegmentParams,
    PendingWrite,
    PlatformSegment,
    SegmentConfirmation,
    UpdateSegmentParams,
)
from shared.connectors.rest_segment import get_rest_segment

_SEGMENTS = "/v1/segments"
# Read-only probe: a 404 for it proves the token and the org id are accepted (ids are integers).
_PROBE_ID = "0"
# Where a segment stands in LiveRamp's privacy review, from its status.
_REVIEW_STATES: dict[str, Literal["active", "failed"]] = {
    "ACTIVE": "active",
    "REJECTED": "failed",
    "DISABLED": "failed",
}


class LiveRampClient:
    """PlatformClient for LiveRamp's Data Seller API: Data Marketplace segments on an activation segment."""

    def __init__(self, http: PlatformHttp, config: LiveRampConfig) -> None:
        self._http = http
        self._config = config

    @property
    def unkeyed_creates(self) -> Literal[True]:
        """No idempotency key is documented for a create: each new segment is recorded as it is made."""
        return True

    async def test_connection(self) -> ConnectionTestResult:
        """Fetch a token and read a probe segment: 200 or 404 means the API accepts us."""
        try:
            await self._http.request("GET", self._segment_path(_PROBE_ID))
        except PlatformError as exc:
            if exc.status_code != 404:
                return ConnectionTestResult(success=False, error=exc.message)
        return ConnectionTestResult(success=True)

    async def create_segment(self, params: CreateSegmentParams) -> str:
        """POST the documented create body; the answer's integer `id` is the segment id.

        The Data Seller API documents no idempotency key: a create retried after a lost answer may
        make a second segment (docs/platform-wire.md)."""
        body = create_body(
            self._config,
            activation_segment_id=activation_segment(self._config, params.attributes),
            name=params.name,
            description=params.description,
            cpm=params.cpm,
            currency=params.currency,
            location=params.data_source_location,
        )
        return require_segment_id(await self._http.request_json("POST", _SEGMENTS, json=body))

    async def update_segment(self, platform_segment_id: str, params: UpdateSegmentParams) -> None:
        """PATCH name, description, type and restrictions, and pricing when a CPM is given.

        A distributed segment's pricing is frozen: LiveRamp's refusal is a permanent error of the item."""
        body: dict[str, Any] = {
            "name": params.name,
            "description": params.description,
            **segment_terms(self._config),
        }
        if params.cpm is not None:
            body["pricing"] = pricing(self._config, params.cpm, params.currency or self._config.currency)
        try:
            await self._http.request("PATCH", self._segment_path(platform_segment_id), json=body)
        except PlatformError as exc:
            if exc.status_code == 409 and "pricing" in body:
                raise frozen_price(exc) from None
            raise

    async def deactivate_segment(self, platform_segment_id: str) -> None:
        """PATCH status DISABLED."""
        await self._http.request(
            "PATCH", self._segment_path(platform_segment_id), json={"status": "DISABLED"}
        )

    async def get_segment(self, platform_segment_id: str) -> PlatformSegment | None:
        """GET the segment; None on 404."""
        return await get_rest_segment(self._http, self._segment_path(platform_segment_id))

    async def confirm(self, writes: Sequence[PendingWrite]) -> dict[str, SegmentConfirmation]:
        """Read each new segment once: `pending` while LiveRamp's privacy review (1-2 business days) runs (the
        review's state is on the segment itself: no reference needed)."""
        confirmed: dict[str, SegmentConfirmation] = {}
        for segment_id in (write.platform_segment_id for write in writes):
            found = await self.get_segment(segment_id)
            if found is None:
                confirmed[segment_id] = SegmentConfirmation(
                    state="failed", message="segment no longer exists"
                )
                continue
            state: Literal["active", "pending", "failed"] = _REVIEW_STATES.get(
                found.status.upper(), "pending"
            )
            message = None if state == "active" else f"LiveRamp status {found.status}"
            confirmed[segment_id] = SegmentConfirmation(state=state, message=message)
        return confirmed

    async def review(self, writes: Sequence[PendingWrite]) -> dict[str, SegmentConfirmation]:
        """Each segment read once, by any client: its review's state is on the segment itself."""
        return await self.confirm(writes)

    async def aclose(self) -> None:
        """Close the HTTP pool."""
        await self._http.aclose()

    @staticmethod
    def _segment_path(platform_segment_id: str) -> str:
        return f"{_SEGMENTS}/{quote(platform_segment_id, safe='')}"


def build_client(
    connection: ValidatedConnection[LiveRampConfig], settings: HttpSettings, deps: ConnectorDeps
) -> LiveRampClient:
    """A LiveRampClient with a cached OAuth2 token and the org header on every API call."""
    config = connection.config
    credentials: OAuth2Credentials = connection.credentials
    http = PlatformHttp(
        platform="liveramp",
        base_url=config.api_base_url,
        settings=settings,
        auth=OAuth2Auth(credentials, token_url=config.token_url, scope=config.scope, clock=deps.clock),
        default_headers={"LR-Org-Id": config.org_id},
        deps=deps,
    )
    return LiveRampClient(http, config)


PLATFORM = PlatformEntry(
    name="liveramp",
    config_model=LiveRampConfig,
    credentials_models={"oauth2": OAuth2Credentials},
    build=build_client,
)
