"""The Trade Desk: third-party data elements keyed by our ProviderElementId, under containers for the topic's
path, CPMs in one data-rate batch per push batch.

The client is here; the element calls are in `tradedesk_elements.py`, the data-rate batches and their status
polling in `tradedesk_rates.py`, field limits and config in `tradedesk_rules.py`, the tree in `tradedesk_tree.py`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Literal

from shared.connectors.auth import Clock
from shared.connectors.batch import (
    BatchCompletion,
    CreateOperation,
    DeactivateOperation,
    SegmentOperation,
    SegmentOutcome,
    UpdateOperation,
)
from shared.connectors.credentials import TradeDeskCredentials
from shared.connectors.deps import ConnectorDeps
from shared.connectors.errors import PlatformError
from shared.connectors.http import PlatformHttp
from shared.connectors.http_settings import HttpSettings
from shared.connectors.platform_entry import PlatformEntry, ValidatedConnection
from shared.connectors.platforms.tradedesk_auth import tradedesk_auth
from shared.connectors.platforms.tradedesk_elements import TradeDeskElements
from shared.connectors.platforms.tradedesk_rates import TradeDeskRates
from shared.connectors.platforms.tradedesk_rules import TradeDeskConfig
from shared.connectors.platforms.tradedesk_tree import ContainerCache, process_containers
from shared.connectors.protocol import (
    ConnectionTestResult,
    CreateSegmentParams,
    PendingWrite,
    PlatformSegment,
    SegmentConfirmation,
    UpdateSegmentParams,
)
from shared.connectors.retry import Sleep

__all__ = ["PLATFORM", "TradeDeskClient", "TradeDeskConfig", "build_client"]


class TradeDeskClient:
    """PlatformClient for The Trade Desk; the platform segment id is the ProviderElementId.

    In a push batch each element is written on its own (`apply_item`), then every CPM the batch set goes
    to TTD in one data-rate batch (`complete_batch`, which reports each element's BatchId for the ledger), which
    `confirm` polls at the run's end and `review` looks at again after it, by the BatchIds the ledger kept (so
    any client of any worker asks about any batch). A topic's ancestors become
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
        self._elements = TradeDeskElements(http, config, containers)
        self._rates = TradeDeskRates(http, config, sleep=sleep, clock=clock)

    async def test_connection(self) -> ConnectionTestResult:
        """Query one element of the provider: proves the token and the provider id."""
        try:
            await self._elements.query_page(element_id=None, start=0, size=1)
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
        elements = self._elements
        match operation:
            case CreateOperation(params=params):
                element_id = params.external_key
                containers = elements.containers_for(params.ancestors)
                element = elements.body(
                    element_id,
                    params.name,
                    params.description,
                    buyable=True,
                    parent=elements.parent_of(containers),
                )
                await elements.create_leaf(element, containers)
                self._rates.stage(element_id, params.cpm, params.currency)
            case UpdateOperation(platform_segment_id=element_id, params=update):
                parent = elements.parent_of(elements.containers_for(update.ancestors))
                await elements.put(
                    elements.body(element_id, update.name, update.description, buyable=True, parent=parent)
                )
                if update.cpm is not None:
                    self._rates.stage(element_id, update.cpm, update.currency or self._config.currency)
            case DeactivateOperation(platform_segment_id=element_id):
                await elements.deactivate(element_id)
        return element_id

    async def complete_batch(self, applied: Sequence[SegmentOutcome]) -> BatchCompletion:
        """Send the CPMs of the applied items in one /v3/datarate/batch (5,000 rates at most per call); each
        priced element's BatchId is its pending reference."""
        return await self._rates.submit([outcome.platform_segment_id for outcome in applied])

    async def get_segment(self, platform_segment_id: str) -> PlatformSegment | None:
        """Find the element through the paged query; None when the provider has no such element."""
        found = await self._elements.find(platform_segment_id)
        if found is None:
            return None
        return PlatformSegment(
            id=platform_segment_id,
            name=str(found.get("DisplayName", "")),
            status="active" if found.get("Buyable", True) else "inactive",
        )

    async def confirm(self, writes: Sequence[PendingWrite]) -> dict[str, SegmentConfirmation]:
        """Poll the data-rate batches of these writes (with backoff, up to `confirm_timeout_s`); a write
        without a BatchId stays pending."""
        return await self._rates.confirm(writes)

    async def review(self, writes: Sequence[PendingWrite]) -> dict[str, SegmentConfirmation]:
        """One look at the data-rate batch of each write; a write without a BatchId is left out."""
        return await self._rates.review(writes)

    async def aclose(self) -> None:
        """Close the HTTP pool."""
        await self._http.aclose()

    async def _alone(self, operation: SegmentOperation) -> str:
        # Outside a push batch: the element, then its rate in a batch of one.
        element_id = await self.apply_item(operation)
        completion = await self.complete_batch([SegmentOutcome(operation, platform_segment_id=element_id)])
        if element_id in completion.errors:
            raise completion.errors[element_id]
        return element_id


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
