"""The Trade Desk's data rates: the CPMs of a push batch in one `/v3/datarate/batch`, then the batches' processing
and approval polled until the run's confirm timeout, and looked at again by the review poller after the run.

TTD reports status by BatchId only: each element's BatchId goes back with its outcome and is kept in the ledger
(`activations.pending_ref`), so whichever client of whichever worker confirms or reviews the write asks about it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import Any
from urllib.parse import quote

from shared.connectors.auth import Clock
from shared.connectors.batch import BatchCompletion
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
from shared.connectors.protocol import PendingWrite, SegmentConfirmation
from shared.connectors.retry import Sleep

_RATES = "/v3/datarate/batch"
_STILL_PENDING = "data rate still being processed or approved"
_NO_BATCH = "no data-rate batch recorded for this write: the connection's next push prices it again"


@dataclass(eq=False, repr=False)
class TradeDeskRates:
    """Rates staged per element until their batch is sent; then the batches' status, by the BatchIds given."""

    http: PlatformHttp
    config: TradeDeskConfig
    _: KW_ONLY
    sleep: Sleep = asyncio.sleep
    clock: Clock = time.monotonic
    # Element id -> its data rate, from the element's write until its batch completes.
    _unsent: dict[str, dict[str, Any]] = field(init=False, default_factory=dict)

    def stage(self, element_id: str, cpm: float, currency: str) -> None:
        """Keep the element's CPM for the next `submit`."""
        self._unsent[element_id] = data_rate(self.config, element_id, cpm, currency)

    async def submit(self, element_ids: Sequence[str | None]) -> BatchCompletion:
        """Send the staged CPMs of these elements in one /v3/datarate/batch (5,000 at most per call): the
        errors, and the BatchId each priced element's CPM went in."""
        rates = [self._unsent.pop(eid) for eid in element_ids if eid is not None and eid in self._unsent]
        completion = BatchCompletion()
        for start in range(0, len(rates), MAX_RATES_PER_BATCH):
            chunk = rates[start : start + MAX_RATES_PER_BATCH]
            elements = [str(rate["ProviderElementId"]) for rate in chunk]
            try:
                batch_id = await self._submit(chunk)
            except PlatformError as exc:
                completion.errors.update(dict.fromkeys(elements, exc))
            else:
                completion.pending_refs.update(dict.fromkeys(elements, batch_id))
        return completion

    async def confirm(self, writes: Sequence[PendingWrite]) -> dict[str, SegmentConfirmation]:
        """Poll the data-rate batches of these writes (oldest first, with backoff, up to `confirm_timeout_s`);
        a write without a BatchId stays pending (nothing to ask TTD; the connection's next push prices it)."""
        waiting = _batches(writes)
        outcome = {
            write.platform_segment_id: SegmentConfirmation(state="pending", message=_NO_BATCH)
            for write in writes
            if write.platform_segment_id not in waiting
        }
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

    async def review(self, writes: Sequence[PendingWrite]) -> dict[str, SegmentConfirmation]:
        """One look at each batch of these writes, no waiting; a write without a BatchId is left out (the
        connection's next push prices it again)."""
        return await self._look(_batches(writes), in_order=False)

    async def _look(self, waiting: dict[str, str], *, in_order: bool) -> dict[str, SegmentConfirmation]:
        """Read the batches (`GET /v3/datarate/batch/{BatchId}`) in the order given (oldest first): where their
        elements' CPMs stand. `in_order`: stop at the first batch TTD is still processing, the later ones left
        for the next round (a run's end, polling: most batches sent after one still processing are too; nothing
        is inferred from it)."""
        statuses: dict[str, tuple[BatchState, str | None]] = {}
        for batch_id in dict.fromkeys(waiting.values()):
            state, message, processing = await self._status(batch_id)
            statuses[batch_id] = (state, message)
            if in_order and processing:
                break
        seen: dict[str, SegmentConfirmation] = {}
        for element, batch_id in waiting.items():
            if batch_id not in statuses:
                continue
            state, message = statuses[batch_id]
            seen[element] = SegmentConfirmation(
                state=state, message=_STILL_PENDING if state == "pending" else message
            )
        return seen

    async def _submit(self, rates: list[dict[str, Any]]) -> str:
        body = await call_tradedesk(
            self.http, "POST", _RATES, {"ProviderId": self.config.provider_id, "DataRates": rates}
        )
        # Processed later; only an immediate refusal is visible here.
        if isinstance(body, dict) and batch_state(body) == "failed":
            raise PlatformError(ErrorClass.PERMANENT, self._rejected(body))
        if not isinstance(body, dict) or not isinstance(body.get("BatchId"), str):
            raise malformed("data-rate batch answer without a BatchId", self.http.secrets())
        batch_id: str = body["BatchId"]
        return batch_id

    async def _status(self, batch_id: str) -> tuple[BatchState, str | None, bool]:
        """The batch's state, TTD's reason when it failed, and whether TTD is still processing it."""
        try:
            body = await call_tradedesk(self.http, "GET", f"{_RATES}/{quote(batch_id, safe='')}")
        except PlatformError as exc:
            if exc.status_code != 404:
                raise
            # A BatchId TTD no longer knows (the ledger outlives it): failed, so the next push prices it again,
            # and the batches of the other elements are still asked about.
            return "failed", trim(f"The Trade Desk knows no data-rate batch {batch_id!r}"), False
        if not isinstance(body, dict):
            return "pending", None, True
        state = batch_state(body)
        return state, self._rejected(body) if state == "failed" else None, still_processing(body)

    def _rejected(self, batch: dict[str, Any]) -> str:
        # TTD's own words, which may quote what we sent: scrubbed like every platform message.
        reason = batch.get("Errors") or batch.get("ApprovalStatus") or batch.get("ProcessingStatus")
        return trim(scrub(f"data rate rejected: {reason}", self.http.secrets()))


def _batches(writes: Sequence[PendingWrite]) -> dict[str, str]:
    """Element id -> the BatchId its CPM went in, in the order given; writes without one left out."""
    return {write.platform_segment_id: write.pending_ref for write in writes if write.pending_ref is not None}
