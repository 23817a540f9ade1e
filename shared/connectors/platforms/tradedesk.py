"""The Trade Desk: third-party data elements keyed by our ProviderElementId, under containers for the topic's
path, CPMs in one data-rate batch per push batch."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from functools import partial
from typing import Any, Literal
from urllib.parse import quote

from shared.connectors.auth import Clock
from shared.connectors.batch import (
    CreateOperation,
    DeactivateOperation,
    SegmentOperation,
    SegmentOutcome,
    UpdateOperation,
)
from shared.connectors.credentials import TradeDeskCredentials
from shared.connectors.deps import ConnectorDeps
from shared.connectors.errors import ErrorClass, PlatformError
from shared.connectors.failures import malformed, scrub, trim
from shared.connectors.http import HttpSettings, PlatformHttp
from shared.connectors.platform_entry import PlatformEntry, ValidatedConnection
from shared.connectors.platforms.tradedesk_auth import LoginRefused, tradedesk_auth
from shared.connectors.platforms.tradedesk_rules import (
    MAX_RATES_PER_BATCH,
    BatchState,
    TradeDeskConfig,
    batch_state,
    check_element,
    data_rate,
    invalid_for_platform,
    is_duplicate_element,
    per_item,
)
from shared.connectors.platforms.tradedesk_tree import (
    Container,
    ContainerCache,
    containers_for,
    process_containers,
)
from shared.connectors.protocol import (
    ConnectionTestResult,
    CreateSegmentParams,
    PlatformSegment,
    SegmentConfirmation,
    UpdateSegmentParams,
)
from shared.connectors.retry import Sleep

__all__ = ["PLATFORM", "TradeDeskClient", "TradeDeskConfig", "build_client"]

_ELEMENTS = "/v3/thirdpartydata"
_RATES = "/v3/datarate/batch"
_QUERY_PAGE_SIZE = 100
_MAX_QUERY_PAGES = 50


class TradeDeskClient:
    """PlatformClient for The Trade Desk; the platform segment id is the ProviderElementId.

    In a push batch each element is written on its own (`apply_item`), then every CPM the batch set goes
    to TTD in one data-rate batch (`complete_batch`), which `confirm` polls later. A topic's ancestors become
    non-buyable containers, each created once per process (`containers`) before the first child needing it.
    """

    # ParentElementId cannot change after creation: a moved topic needs a new element (planning's `move`).
    fixed_parents: Literal[True] = True

    def __init__(
        self,
        http: PlatformHttp,
        config: TradeDeskConfig,
        *,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
        containers: ContainerCache = process_containers,
    ) -> None:
        self._http = http
        self._config = config
        self._sleep = sleep
        self._clock = clock
        self._containers = containers
        # Element id -> its data rate, from the element's write until its batch completes.
        self._unsent_rates: dict[str, dict[str, Any]] = {}
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
        return await self._alone(CreateOperation(params))

    async def update_segment(self, platform_segment_id: str, params: UpdateSegmentParams) -> None:
        """Replace name and description (buyable again), and the CPM when given."""
        await self._alone(UpdateOperation(platform_segment_id, params))

    async def deactivate_segment(self, platform_segment_id: str) -> None:
        """Make the element unbuyable, keeping its name and description."""
        await self._alone(DeactivateOperation(platform_segment_id))

    async def apply_item(self, operation: SegmentOperation) -> str:
        """Write the element; its CPM waits for `complete_batch`. Fields over TTD's limits fail before any call."""
        match operation:
            case CreateOperation(params=params):
                element_id = params.external_key
                containers = self._containers_for(params.ancestors)
                parent = containers[-1].element_id if containers else self._config.parent
                element = self._element(
                    element_id, params.name, params.description, buyable=True, parent=parent
                )
                await self._create_leaf(element, containers)
                self._unsent_rates[element_id] = data_rate(
                    self._config, element_id, params.cpm, params.currency
                )
            case UpdateOperation(platform_segment_id=element_id, params=update):
                containers = self._containers_for(update.ancestors)
                parent = containers[-1].element_id if containers else self._config.parent
                element = self._element(
                    element_id, update.name, update.description, buyable=True, parent=parent
                )
                await self._put(element)
                if update.cpm is not None:
                    currency = update.currency or self._config.currency
                    self._unsent_rates[element_id] = data_rate(self._config, element_id, update.cpm, currency)
            case DeactivateOperation(platform_segment_id=element_id):
                found = await self._find(element_id)
                if found is None:
                    raise PlatformError(
                        ErrorClass.PERMANENT, f"element {element_id!r} not found", status_code=404
                    )
                name, description = str(found.get("DisplayName", "")), str(found.get("Description", ""))
                # The element's own parent: ParentElementId cannot change, whatever the topic's path is now.
                parent = str(found.get("ParentElementId") or self._config.parent)
                await self._call(
                    "PUT",
                    _ELEMENTS,
                    self._element(element_id, name, description, buyable=False, parent=parent),
                )
        return element_id

    async def complete_batch(self, applied: Sequence[SegmentOutcome]) -> dict[str, PlatformError]:
        """Send the CPMs of the applied items in one /v3/datarate/batch (5,000 rates at most per call)."""
        rates = [
            self._unsent_rates.pop(outcome.platform_segment_id)
            for outcome in applied
            if outcome.platform_segment_id in self._unsent_rates
        ]
        errors: dict[str, PlatformError] = {}
        for start in range(0, len(rates), MAX_RATES_PER_BATCH):
            chunk = rates[start : start + MAX_RATES_PER_BATCH]
            elements = [str(rate["ProviderElementId"]) for rate in chunk]
            try:
                await self._submit_rates(chunk, elements)
            except PlatformError as exc:
                errors.update(dict.fromkeys(elements, exc))
        return errors

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
            outcome[element] = SegmentConfirmation(
                state="pending", message="data rate still being processed or approved"
            )
        return outcome

    async def aclose(self) -> None:
        """Close the HTTP pool."""
        await self._http.aclose()

    async def _alone(self, operation: SegmentOperation) -> str:
        # Outside a push batch: the element, then its rate in a batch of one.
        element_id = await self.apply_item(operation)
        errors = await self.complete_batch([SegmentOutcome(operation, platform_segment_id=element_id)])
        if element_id in errors:
            raise errors[element_id]
        return element_id

    def _element(
        self, element_id: str, name: str, description: str, *, buyable: bool, parent: str
    ) -> dict[str, Any]:
        check_element(element_id, name, description)
        return {
            "ProviderId": self._config.provider_id,
            "ProviderElementId": element_id,
            "ParentElementId": parent,
            "DisplayName": name,
            "Buyable": buyable,
            "Description": description,
        }

    def _containers_for(self, ancestors: Sequence[str]) -> list[Container]:
        # Checked before any call, like the leaf: a container TTD would refuse fails the item at once.
        containers = containers_for(self._config.provider_id, self._config.parent, ancestors)
        for container in containers:
            try:
                check_element(container.element_id, container.display_name, "")
            except PlatformError as exc:
                rule = exc.message.removeprefix("invalid for The Trade Desk: ")
                raise invalid_for_platform(f"container {container.path!r}", rule) from None
        return containers

    async def _create_leaf(self, element: dict[str, Any], containers: list[Container]) -> None:
        base_url = self._config.api_base_url
        trusted = any(self._containers.known(base_url, c.element_id) for c in containers)
        try:
            await self._ensure_containers(containers)
            await self._write_leaf(element)
        except PlatformError as exc:
            if not trusted or exc.status_code != 400:
                raise
            # Containers trusted from earlier in this process may be gone (a reset platform): a child of
            # one (a container or the leaf) is refused, so make them all again, outermost first.
            self._containers.forget(base_url, [c.element_id for c in containers])
            await self._ensure_containers(containers)
            await self._write_leaf(element)

    async def _write_leaf(self, element: dict[str, Any]) -> None:
        try:
            await self._call("POST", _ELEMENTS, element)
        except PlatformError as exc:
            if not is_duplicate_element(exc):
                raise
            # A redelivered or retried create: the element is ours, so bring it up to date.
            await self._put(element)

    async def _ensure_containers(self, containers: list[Container]) -> bool:
        # Outermost first: TTD needs a parent before its child. True when any came from the cache.
        remembered = False
        for container in containers:
            create = partial(self._create_container, container)
            try:
                remembered |= await self._containers.ensure(
                    self._config.api_base_url, container.element_id, create
                )
            except LoginRefused:
                raise
            except PlatformError as exc:
                raise PlatformError(
                    exc.error_class,
                    trim(f"container {container.path!r}: {exc.message}"),
                    status_code=exc.status_code,
                    retry_after=exc.retry_after,
                    attempts=exc.attempts,
                ) from None
        return remembered

    async def _create_container(self, container: Container) -> None:
        body = self._element(
            container.element_id, container.display_name, "", buyable=False, parent=container.parent_id
        )
        try:
            await self._call("POST", _ELEMENTS, body)
        except PlatformError as exc:
            # Made by an earlier process (or another connection of this provider): same id, same place.
            if not is_duplicate_element(exc):
                raise

    async def _put(self, element: dict[str, Any]) -> None:
        try:
            await self._call("PUT", _ELEMENTS, element)
        except PlatformError as exc:
            if exc.status_code != 400:
                raise
            # ParentElementId cannot change: an element made under another parent (before its topic had a
            # path, or since moved) stays where it is, and only its content is brought up to date.
            found = await self._find(str(element["ProviderElementId"]))
            held = found.get("ParentElementId") if found else None
            if not isinstance(held, str) or held == element["ParentElementId"]:
                raise exc from None
            await self._call("PUT", _ELEMENTS, {**element, "ParentElementId": held})

    async def _call(self, method: str, path: str, body: object = None) -> Any:
        try:
            return await self._http.request_json(method, path, json=body)
        except LoginRefused:
            raise
        except PlatformError as exc:
            raise per_item(exc) from None

    async def _submit_rates(self, rates: list[dict[str, Any]], elements: list[str]) -> None:
        body = await self._call("POST", _RATES, {"ProviderId": self._config.provider_id, "DataRates": rates})
        # Processed later; only an immediate refusal is visible here.
        if isinstance(body, dict) and batch_state(body) == "failed":
            raise PlatformError(ErrorClass.PERMANENT, self._rejected(body))
        if not isinstance(body, dict) or not isinstance(body.get("BatchId"), str):
            raise malformed("data-rate batch answer without a BatchId", self._http.secrets())
        batch_id: str = body["BatchId"]
        self._rate_batches.update(dict.fromkeys(elements, batch_id))

    async def _batch_status(self, batch_id: str) -> tuple[BatchState, str | None]:
        body = await self._call("GET", f"{_RATES}/{quote(batch_id, safe='')}")
        if not isinstance(body, dict):
            return "pending", None
        state = batch_state(body)
        return state, self._rejected(body) if state == "failed" else None

    def _rejected(self, batch: dict[str, Any]) -> str:
        # TTD's own words, which may quote what we sent: scrubbed like every platform message.
        reason = batch.get("Errors") or batch.get("ApprovalStatus") or batch.get("ProcessingStatus")
        return trim(scrub(f"data rate rejected: {reason}", self._http.secrets()))

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
        body = await self._call("POST", f"{_ELEMENTS}/query", query)
        result = body.get("Result") if isinstance(body, dict) else None
        if not isinstance(result, list):
            raise malformed("query answer without a Result list")
        total = body.get("ResultCount", len(result))
        elements = [element for element in result if isinstance(element, dict)]
        return elements, total if isinstance(total, int) else len(result)


def build_client(
    connection: ValidatedConnection[TradeDeskConfig], settings: HttpSettings, deps: ConnectorDeps
) -> TradeDeskClient:
    """A TradeDeskClient sending the pasted token, or tokens minted from the login, as TTD-Auth."""
    config = connection.config
    credentials: TradeDeskCredentials = connection.credentials
    http = PlatformHttp(
        platform="tradedesk",
        base_url=config.api_base_url,
        settings=settings,
        auth=tradedesk_auth(credentials, base_url=config.api_base_url, clock=deps.clock),
        deps=deps,
    )
    return TradeDeskClient(http, config, sleep=deps.sleep, clock=deps.clock)


PLATFORM = PlatformEntry(
    name="tradedesk",
    config_model=TradeDeskConfig,
    credentials_models={"bearer": TradeDeskCredentials},
    build=build_client,
)
