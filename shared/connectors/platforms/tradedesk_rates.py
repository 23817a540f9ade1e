"""The Trade Desk's data rates: the CPMs of a push batch in one `/v3/datarate/batch`, then the batches' processing
and approval polled until the run's confirm timeout, and looked at again by the review poller after the run."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import Any
from urllib.parse import quote

from shared.connectors.auth import Clock
from shared.connectors.errors import ErrorClass, PlatformError
from shared.connectors.failures import malformed, scrub, trim
from shared.connectors.http import PlatformHttp
from shared.connectors.platforms.tradedesk_elements import call_tradedesk
from shared.connectors.platforms.tradedesk_rules import (
    MAX_RATES_PER_BATCH,
    BatchState,
    TradeDeskConfig,
    batch_state,
    data_rate,
)
from shared.connectors.protocol import SegmentConfirmation
from shared.connectors.retry import Sleep

_RATES = "/v3/datarate/batch"
_STILL_PENDING = "data rate still being processed or approved"


class RateBatches:
    """The data-rate batch each element's CPM last went in, per TTD base URL and provider, until TTD reports it
    processed and approved. Shared by every client of a process: TTD reports status by BatchId only, so the
    review poller's client (or a run's next slice) finds here the batches an earlier client sent.

    A failed batch stays known (a later look says failed again, never active); an active one is forgotten.
    """

    def __init__(self) -> None:
        self._sent: dict[tuple[str, str, str], str] = {}

    def record(self, scope: tuple[str, str], element_ids: Sequence[str], batch_id: str) -> None:
        """These elements' CPMs went in `batch_id`."""
        self._sent.update(((*scope, element_id), batch_id) for element_id in element_ids)

    def batch_of(self, scope: tuple[str, str], element_id: str) -> str | None:
        """The batch to ask about the element's CPM; None when this process sent none still unconfirmed."""
        return self._sent.get((*scope, element_id))

    def settle(self, scope: tuple[str, str], element_id: str, batch_id: str) -> None:
        """The element's CPM is live: forget it, unless a later batch priced it again meanwhile."""
        key = (*scope, element_id)
        if self._sent.get(key) == batch_id:
            del self._sent[key]

    def clear(self) -> None:
        """Forget every batch (tests call this between cases)."""
        self._sent.clear()


# Module level, like the container cache and the token cache: every client of a process shares it.
process_rate_batches = RateBatches()


def reset_rate_batches() -> None:
    """Forget every batch this process sent (tests call this for a new worker process)."""
    process_rate_batches.clear()


@dataclass(eq=False, repr=False)
class TradeDeskRates:
    """Rates staged per element until their batch is sent, then the batch each one went in, until processed."""

    http: PlatformHttp
    config: TradeDeskConfig
    _: KW_ONLY
    sleep: Sleep = asyncio.sleep
    clock: Clock = time.monotonic
    batches: RateBatches = process_rate_batches
    # Element id -> its data rate, from the element's write until its batch completes.
    _unsent: dict[str, dict[str, Any]] = field(init=False, default_factory=dict)
    _scope: tuple[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self._scope = (str(self.config.api_base_url), self.config.provider_id)

    def stage(self, element_id: str, cpm: float, currency: str) -> None:
        """Keep the element's CPM for the next `submit`."""
        self._unsent[element_id] = data_rate(self.config, element_id, cpm, currency)

    async def submit(self, element_ids: Sequence[str | None]) -> dict[str, PlatformError]:
        """Send the staged CPMs of these elements in one /v3/datarate/batch (5,000 at most per call)."""
        rates = [self._unsent.pop(eid) for eid in element_ids if eid is not None and eid in self._unsent]
        errors: dict[str, PlatformError] = {}
        for start in range(0, len(rates), MAX_RATES_PER_BATCH):
            chunk = rates[start : start + MAX_RATES_PER_BATCH]
            elements = [str(rate["ProviderElementId"]) for rate in chunk]
            try:
                await self._submit(chunk, elements)
            except PlatformError as exc:
                errors.update(dict.fromkeys(elements, exc))
        return errors

    async def confirm(self, element_ids: Sequence[str]) -> dict[str, SegmentConfirmation]:
        """Poll the data-rate batches of these elements (with backoff, up to `confirm_timeout_s`); an element
        without a batch this process sent is active (its write was final)."""
        waiting = self._sent_batches(element_ids)
        outcome = {eid: SegmentConfirmation(state="active") for eid in element_ids if eid not in waiting}
        deadline = self.clock() + self.config.confirm_timeout_s
        delay = 0.25
        while waiting:
            for element, seen in (await self._look(waiting)).items():
                if seen.state != "pending":
                    outcome[element] = seen
                    del waiting[element]
            if not waiting or self.clock() >= deadline:
                break
            await self.sleep(delay)
            delay = min(delay * 2, 4.0)
        outcome.update(dict.fromkeys(waiting, SegmentConfirmation(state="pending", message=_STILL_PENDING)))
        return outcome

    async def review(self, element_ids: Sequence[str]) -> dict[str, SegmentConfirmation]:
        """One look at the batches of these elements, no waiting; an element whose batch this process did not
        send is left out (the poller asks again later, the connection's next push otherwise)."""
        return await self._look(self._sent_batches(element_ids))

    def _sent_batches(self, element_ids: Sequence[str]) -> dict[str, str]:
        found = {eid: self.batches.batch_of(self._scope, eid) for eid in element_ids}
        return {eid: batch for eid, batch in found.items() if batch is not None}

    async def _look(self, waiting: dict[str, str]) -> dict[str, SegmentConfirmation]:
        """Each batch read once (`GET /v3/datarate/batch/{BatchId}`): where its elements' CPMs stand."""
        statuses = {batch: await self._status(batch) for batch in set(waiting.values())}
        seen: dict[str, SegmentConfirmation] = {}
        for element, batch in waiting.items():
            state, message = statuses[batch]
            if state == "active":
                self.batches.settle(self._scope, element, batch)
            seen[element] = SegmentConfirmation(
                state=state, message=_STILL_PENDING if state == "pending" else message
            )
        return seen

    async def _submit(self, rates: list[dict[str, Any]], elements: list[str]) -> None:
        body = await call_tradedesk(
            self.http, "POST", _RATES, {"ProviderId": self.config.provider_id, "DataRates": rates}
        )
        # Processed later; only an immediate refusal is visible here.
        if isinstance(body, dict) and batch_state(body) == "failed":
            raise PlatformError(ErrorClass.PERMANENT, self._rejected(body))
        if not isinstance(body, dict) or not isinstance(body.get("BatchId"), str):
            raise malformed("data-rate batch answer without a BatchId", self.http.secrets())
        batch_id: str = body["BatchId"]
        self.batches.record(self._scope, elements, batch_id)

    async def _status(self, batch_id: str) -> tuple[BatchState, str | None]:
        body = await call_tradedesk(self.http, "GET", f"{_RATES}/{quote(batch_id, safe='')}")
        if not isinstance(body, dict):
            return "pending", None
        state = batch_state(body)
        return state, self._rejected(body) if state == "failed" else None

    def _rejected(self, batch: dict[str, Any]) -> str:
        # TTD's own words, which may quote what we sent: scrubbed like every platform message.
        reason = batch.get("Errors") or batch.get("ApprovalStatus") or batch.get("ProcessingStatus")
        return trim(scrub(f"data rate rejected: {reason}", self.http.secrets()))
