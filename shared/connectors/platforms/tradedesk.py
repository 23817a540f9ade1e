"""The Trade Desk: third-party data elements keyed by our ProviderElementId, CPM via data-rate batches."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any, Literal
from urllib.parse import quote

from pydantic import Field

from shared.connectors.auth import Clock, StaticHeaderAuth
from shared.connectors.credentials import ApiKeyCredentials
from shared.connectors.deps import ConnectorDeps
from shared.connectors.errors import ErrorClass, PlatformError
from shared.connectors.failures import malformed, scrub, trim
from shared.connectors.http import HttpSettings, PlatformHttp
from shared.connectors.outbound_config import AbsoluteUrl, OutboundConfig
from shared.connectors.platform_entry import PlatformEntry, ValidatedConnection
from shared.connectors.protocol import (
    ConnectionTestResult,
    CreateSegmentParams,
    PlatformSegment,
    SegmentConfirmation,
    UpdateSegmentParams,
)
from shared.connectors.retry import Sleep

_ELEMENTS = "/v3/thirdpartydata"
_QUERY_PAGE_SIZE = 100
_MAX_QUERY_PAGES = 50


class TradeDeskConfig(OutboundConfig):
    """Config of a `tradedesk` connection."""

    api_base_url: AbsoluteUrl = "https://api.thetradedesk.com"
    provider_id: str = Field(min_length=1)
    parent_element_id: str | None = None
    # Sent as PartnerId on partner-level data rates when set.
    partner_id: str | None = None
    # How long a push waits for TTD to process its data-rate batches before leaving them `pending`.
    confirm_timeout_s: float = Field(default=30.0, ge=0)


def is_duplicate_element(error: PlatformError) -> bool:
    """True for TTD's answer to creating a ProviderElementId that already exists."""
    return error.status_code == 400 and "already exists" in error.message.lower()


class TradeDeskClient:
    """PlatformClient for The Trade Desk; the platform segment id is the ProviderElementId."""

    def __init__(
        self,
        http: PlatformHttp,
        config: TradeDeskConfig,
        *,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
    ) -> None:
        self._http = http
        self._config = config
        self._sleep = sleep
        self._clock = clock
        # Element id -> the data-rate batch that set its CPM, until TTD reports it processed.
        self._rate_batches: dict[str, str] = {}

    async def test_connection(self) -> ConnectionTestResult:
        """Query one element of the provider: proves the token and the provider id."""
        try:
            await self._query_page(element_id=None, start=0, size=1)
        except PlatformError as exc:
            return ConnectionTestResult(success=False, error=exc.message)
        return ConnectionTestResult(success=True)

    async def create_segment(self, params: CreateSegmentParams) -> str:
        """Create the element (or update it when it already exists), then set its CPM."""
        element = self._element(params.external_key, params.name, params.description, buyable=True)
        try:
            await self._http.request("POST", _ELEMENTS, json=element)
        except PlatformError as exc:
            if not is_duplicate_element(exc):
                raise
            # A redelivered or retried create: the element is ours, so bring it up to date.
            await self._http.request("PUT", _ELEMENTS, json=element)
        await self._set_rate(params.external_key, params.cpm, params.currency)
        return params.external_key

    async def update_segment(self, platform_segment_id: str, params: UpdateSegmentParams) -> None:
        """Replace name and description (buyable again), and the CPM when given."""
        element = self._element(platform_segment_id, params.name, params.description, buyable=True)
        await self._http.request("PUT", _ELEMENTS, json=element)
        if params.cpm is not None:
            await self._set_rate(platform_segment_id, params.cpm, params.currency or self._config.currency)

    async def deactivate_segment(self, platform_segment_id: str) -> None:
        """Make the element unbuyable, keeping its name and description."""
        found = await self._find(platform_segment_id)
        if found is None:
            raise PlatformError(
                ErrorClass.PERMANENT, f"element {platform_segment_id!r} not found", status_code=404
            )
        element = self._element(
            platform_segment_id,
            str(found.get("DisplayName", "")),
            str(found.get("Description", "")),
            buyable=False,
        )
        await self._http.request("PUT", _ELEMENTS, json=element)

    async def get_segment(self, platform_segment_id: str) -> PlatformSegment | None:
        """Find the element through the paged query; None when the provider has no such element."""
        found = await self._find(platform_segment_id)
        if found is None:
            return None
        return PlatformSegment(
            id=platform_segment_id,
            name=str(found.get("DisplayName", "")),
            status="active" if found.get("Buyable", True) else "inactive",
        )

    async def aclose(self) -> None:
        """Close the HTTP pool."""
        await self._http.aclose()

    def _element(self, element_id: str, name: str, description: str, *, buyable: bool) -> dict[str, Any]:
        return {
            "ProviderId": self._config.provider_id,
            "ProviderElementId": element_id,
            "ParentElementId": self._config.parent_element_id,
            "DisplayName": name,
            "Buyable": buyable,
            "Description": description,
        }

    async def _set_rate(self, element_id: str, cpm: float, currency: str) -> None:
        rate: dict[str, Any] = {
            "ProviderId": self._config.provider_id,
            "ProviderElementId": element_id,
            "RateLevel": "Partner",
            "RateType": "CPM",
            "CPMRate": {"Amount": cpm, "CurrencyCode": currency},
        }
        if self._config.partner_id:
            rate["PartnerId"] = self._config.partner_id
        body = await self._http.request_json("POST", "/v3/datarate/batch", json={"DataRates": [rate]})
        # The batch is processed asynchronously; only an immediate rejection is visible here.
        if isinstance(body, dict) and body.get("Status") == "Failed":
            raise PlatformError(ErrorClass.PERMANENT, self._rejected(body))
        if isinstance(body, dict) and isinstance(body.get("BatchId"), str):
            self._rate_batches[element_id] = body["BatchId"]

    async def confirm(self, platform_segment_ids: Sequence[str]) -> dict[str, SegmentConfirmation]:
        """Poll the data-rate batches of these elements (with backoff, up to `confirm_timeout_s`)."""
        waiting = {eid: self._rate_batches[eid] for eid in platform_segment_ids if eid in self._rate_batches}
        outcome = {
            eid: SegmentConfirmation(state="active") for eid in platform_segment_ids if eid not in waiting
        }
        deadline = self._clock() + self._config.confirm_timeout_s
        delay = 0.25
        while waiting:
            statuses = {batch: await self._batch_status(batch) for batch in set(waiting.values())}
            for element, batch in list(waiting.items()):
                state, message = statuses[batch]
                if state != "pending":
                    outcome[element] = SegmentConfirmation(state=state, message=message)
                    del waiting[element]
            if not waiting or self._clock() >= deadline:
                break
            await self._sleep(delay)
            delay = min(delay * 2, 4.0)
        for element in waiting:
            outcome[element] = SegmentConfirmation(state="pending", message="data rate still being processed")
        return outcome

    async def _batch_status(self, batch_id: str) -> tuple[Literal["active", "pending", "failed"], str | None]:
        body = await self._http.request_json("GET", f"/v3/datarate/batch/{quote(batch_id, safe='')}")
        status = body.get("Status") if isinstance(body, dict) else None
        if status == "Processed":
            return "active", None
        if status == "Failed":
            return "failed", self._rejected(body)
        return "pending", None

    def _rejected(self, batch: dict[str, Any]) -> str:
        # TTD's own words, which may quote what we sent: scrubbed like every platform message.
        return trim(scrub(f"data rate rejected: {batch.get('Errors')}", self._http.secrets()))

    async def _find(self, element_id: str) -> dict[str, Any] | None:
        start = 0
        for _ in range(_MAX_QUERY_PAGES):
            elements, total = await self._query_page(
                element_id=element_id, start=start, size=_QUERY_PAGE_SIZE
            )
            for element in elements:
                if element.get("ProviderElementId") == element_id:
                    return element
            start += len(elements)
            if not elements or start >= total:
                return None
        return None

    async def _query_page(
        self, *, element_id: str | None, start: int, size: int
    ) -> tuple[list[dict[str, Any]], int]:
        query: dict[str, Any] = {
            "ProviderId": self._config.provider_id,
            "PageStartIndex": start,
            "PageSize": size,
        }
        if element_id is not None:
            query["ProviderElementId"] = element_id
        body = await self._http.request_json("POST", f"{_ELEMENTS}/query", json=query)
        result = body.get("Result") if isinstance(body, dict) else None
        if not isinstance(result, list):
            raise malformed("query answer without a Result list")
        total = body.get("ResultCount", len(result))
        elements = [element for element in result if isinstance(element, dict)]
        return elements, total if isinstance(total, int) else len(result)


def build_client(
    connection: ValidatedConnection[TradeDeskConfig], settings: HttpSettings, deps: ConnectorDeps
) -> TradeDeskClient:
    """A TradeDeskClient sending the token as TTD-Auth."""
    config = connection.config
    credentials: ApiKeyCredentials = connection.credentials
    http = PlatformHttp(
        platform="tradedesk",
        base_url=config.api_base_url,
        settings=settings,
        auth=StaticHeaderAuth({"TTD-Auth": credentials.api_key.get_secret_value()}),
        deps=deps,
    )
    return TradeDeskClient(http, config, sleep=deps.sleep, clock=deps.clock)


PLATFORM = PlatformEntry(
    name="tradedesk",
    config_model=TradeDeskConfig,
    credentials_models={"bearer": ApiKeyCredentials},
    build=build_client,
)
