"""The Trade Desk's data rates: the CPMs of a push batch in one `/v3/datarate/batch`, then the batches' processing
and approval polled until the run's confirm timeout."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
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


class TradeDeskRates:
    """Rates staged per element until their batch is sent, then the batch each one went in, until processed."""

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
        # Element id -> its data rate, from the element's write until its batch completes.
        self._unsent: dict[str, dict[str, Any]] = {}
        # Element id -> the data-rate batch that set its CPM, until TTD reports it processed.
        self._batches: dict[str, str] = {}

    def stage(self, element_id: str, cpm: float, currency: str) -> None:
        """Keep the element's CPM for the next `submit`."""
        self._unsent[element_id] = data_rate(self._config, element_id, cpm, currency)

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
        """Poll the data-rate batches of these elements (with backoff, up to `confirm_timeout_s`)."""
        waiting = {eid: self._batches[eid] for eid in element_ids if eid in self._batches}
        outcome = {eid: SegmentConfirmation(state="active") for eid in element_ids if eid not in waiting}
        deadline = self._clock() + self._config.confirm_timeout_s
        delay = 0.25
        while waiting:
            statuses = {batch: await self._status(batch) for batch in set(waiting.values())}
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

    async def _submit(self, rates: list[dict[str, Any]], elements: list[str]) -> None:
        body = await call_tradedesk(
            self._http, "POST", _RATES, {"ProviderId": self._config.provider_id, "DataRates": rates}
        )
        # Processed later; only an immediate refusal is visible here.
        if isinstance(body, dict) and batch_state(body) == "failed":
            raise PlatformError(ErrorClass.PERMANENT, self._rejected(body))
        if not isinstance(body, dict) or not isinstance(body.get("BatchId"), str):
            raise malformed("data-rate batch answer without a BatchId", self._http.secrets())
        batch_id: str = body["BatchId"]
        self._batches.update(dict.fromkeys(elements, batch_id))

    async def _status(self, batch_id: str) -> tuple[BatchState, str | None]:
        body = await call_tradedesk(self._http, "GET", f"{_RATES}/{quote(batch_id, safe='')}")
        if not isinstance(body, dict):
            return "pending", None
        state = batch_state(body)
        return state, self._rejected(body) if state == "failed" else None

    def _rejected(self, batch: dict[str, Any]) -> str:
        # TTD's own words, which may quote what we sent: scrubbed like every platform message.
        reason = batch.get("Errors") or batch.get("ApprovalStatus") or batch.get("ProcessingStatus")
        return trim(scrub(f"data rate rejected: {reason}", self._http.secrets()))
