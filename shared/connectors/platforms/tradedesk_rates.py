"""The Trade Desk's data rates: the CPMs of a push batch in one `/v3/datarate/batch`, then the batches' processing
and approval polled until the run's confirm timeout, and looked at again by the review poller after the run."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, NamedTuple
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
    still_processing,
)
from shared.connectors.protocol import SegmentConfirmation
from shared.connectors.retry import Sleep

_RATES = "/v3/datarate/batch"
_STILL_PENDING = "data rate still being processed or approved"


class SentBatch(NamedTuple):
    """A data-rate batch this process sent, and its place among them (the earlier, the smaller)."""

    batch_id: str
    order: int


class RateBatches:
    """The data-rate batch each element's CPM last went in, per TTD base URL and provider, until TTD reports it
    processed and approved. Shared by every client of a process: TTD reports status by BatchId only, so the
    review poller's client (or a run's next slice) finds here the batches an earlier client sent.

    A failed batch stays known (a later look says failed again, never active); an active one is forgotten.
    """

    def __init__(self) -> None:
        self._sent: dict[tuple[str, str, str], SentBatch] = {}
        self._orders = itertools.count()

    def record(self, scope: tuple[str, str], element_ids: Sequence[str], batch_id: str) -> None:
        """These elements' CPMs went in `batch_id`, sent after every batch recorded before it."""
        sent = SentBatch(batch_id, next(self._orders))
        self._sent.update(((*scope, element_id), sent) for element_id in element_ids)

    def sent(self, scope: tuple[str, str], element_id: str) -> SentBatch | None:
        """The batch to ask about the element's CPM; None when this process sent none still unconfirmed."""
        return self._sent.get((*scope, element_id))

    def settle(self, scope: tuple[str, str], element_id: str, batch_id: str) -> None:
        """The element's CPM is live: forget it, unless a later batch priced it again meanwhile."""
        key = (*scope, element_id)
        sent = self._sent.get(key)
        if sent is not None and sent.batch_id == batch_id:
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
            for element, seen in (await self._look(waiting, in_order=True)).items():
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
        """One look at each batch of these elements, no waiting; an element whose batch this process did not
        send is left out (the poller asks again later, the connection's next push otherwise)."""
        return await self._look(self._sent_batches(element_ids), in_order=False)

    def _sent_batches(self, element_ids: Sequence[str]) -> dict[str, SentBatch]:
        found = {eid: self.batches.sent(self._scope, eid) for eid in element_ids}
        return {eid: sent for eid, sent in found.items() if sent is not None}

    async def _look(self, waiting: dict[str, SentBatch], *, in_order: bool) -> dict[str, SegmentConfirmation]:
        """Read the batches (`GET /v3/datarate/batch/{BatchId}`) oldest first: where their elements' CPMs stand.
        `in_order`: stop at the first batch TTD is still processing, the later ones left for the next round (a
        run's end, polling: most batches sent after one still processing are too; nothing is inferred from it)."""
        statuses: dict[str, tuple[BatchState, str | None]] = {}
        for batch_id, _ in sorted(set(waiting.values()), key=lambda sent: sent.order):
            state, message, processing = await self._status(batch_id)
            statuses[batch_id] = (state, message)
            if in_order and processing:
                break
        seen: dict[str, SegmentConfirmation] = {}
        for element, (batch_id, _) in waiting.items():
            if batch_id not in statuses:
                continue
            state, message = statuses[batch_id]
            if state == "active":
                self.batches.settle(self._scope, element, batch_id)
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

    async def _status(self, batch_id: str) -> tuple[BatchState, str | None, bool]:
        """The batch's state, TTD's reason when it failed, and whether TTD is still processing it."""
        body = await call_tradedesk(self.http, "GET", f"{_RATES}/{quote(batch_id, safe='')}")
        if not isinstance(body, dict):
            return "pending", None, True
        state = batch_state(body)
        return state, self._rejected(body) if state == "failed" else None, still_processing(body)

    def _rejected(self, batch: dict[str, Any]) -> str:
        # TTD's own words, which may quote what we sent: scrubbed like every platform message.
        reason = batch.get("Errors") or batch.get("ApprovalStatus") or batch.get("ProcessingStatus")
        return trim(scrub(f"data rate rejected: {reason}", self.http.secrets()))
