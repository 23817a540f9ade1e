"""One slice of a push run under its lease: batches from the run's cursor until the slice's budget is
spent, each batch's ledger rows durable before its events leave and the cursor moved only past
recorded batches, so whoever takes the run next resumes exactly there."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass

import structlog

from services.push_worker.execute import abandoned_events, execute_batch, plan_events
from services.push_worker.plan import PlannedItem
from services.push_worker.reader import PlanReader, PushCursor
from services.push_worker.run_setup import OpenedRun, PushDependencies, finish_run
from shared.connectors.batch import CallSlots
from shared.connectors.errors import PlatformError
from shared.connectors.protocol import ConfirmingPlatformClient
from shared.db import activations as ledger
from shared.db.runs import is_cancel_requested
from shared.metrics import ITEMS_PUSHED
from shared.runs.executor import LeaseKeeper

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class SliceBudget:
    """How much of a run one slice pushes before giving the run back."""

    batches: int
    seconds: float


@dataclass
class _InFlight:
    task: asyncio.Task[PlatformError | None]
    cursor: PushCursor


class PushSlice:
    """Pushes batches of one opened run until its budget, a cancel, a stop, a lost lease or the end."""

    def __init__(
        self, keeper: LeaseKeeper, deps: PushDependencies, opened: OpenedRun, budget: SliceBudget
    ) -> None:
        self._keeper = keeper
        self._deps = deps
        self._run = opened
        self._budget = budget
        self._slots = CallSlots(opened.concurrency)
        self._in_flight: deque[_InFlight] = deque()
        self._refusal: PlatformError | None = None
        self._log = log.bind(run_id=str(opened.context.run_id), connection_id=str(opened.connection.id))

    async def run(self, reader: PlanReader) -> None:
        """Work the slice; the run is finished here when its last item is recorded."""
        deps, budget = self._deps, self._budget
        deadline = time.monotonic() + budget.seconds
        planned = 0
        try:
            while True:
                refused = self._refusal or self._slots.rejected
                over_budget = planned >= budget.batches or time.monotonic() >= deadline
                if refused is None and (over_budget or deps.stopping.is_set() or self._keeper.lost):
                    if not await self._drain(keep=0) or await reader.next_batch() is not None:
                        if deps.stopping.is_set():
                            self._log.info("push_run_handed_over", batches_recorded=planned)
                        return  # handed back at a batch boundary; the cursor says where to resume
                    break  # the run's last batch was also the slice's last
                if await is_cancel_requested(deps.pool, self._run.context.run_id):
                    await self._drain(keep=0)
                    await finish_run(deps, self._run.command_ref, cancelled=True)
                    await self._keeper.finish()
                    return
                batch = await reader.next_batch()
                if batch is None:
                    break
                items, cursor = batch
                planned += 1
                if not await self._push(items, cursor, refused):
                    return
            if not await self._drain(keep=0):
                return
        finally:
            for flight in self._in_flight:
                flight.task.cancel()
            await asyncio.gather(*(flight.task for flight in self._in_flight), return_exceptions=True)
        await self._close()

    async def _push(
        self, items: list[PlannedItem], cursor: PushCursor, refused: PlatformError | None
    ) -> bool:
        """Start (or, without platform calls, record) one batch; False once the lease is lost."""
        context = self._run.context
        if self._run.dry_run:
            await self._deps.publisher.publish(plan_events(context, items))
            return await self._drain(keep=0) and await self._keeper.save(cursor.stored())
        if refused is not None:
            await self._deps.publisher.publish(abandoned_events(context, items, refused))
            return await self._drain(keep=0) and await self._keeper.save(cursor.stored())
        if not await self._drain(keep=self._deps.settings.push_batches_in_flight - 1):
            return False
        self._in_flight.append(_InFlight(asyncio.create_task(self._record(items)), cursor))
        return True

    async def _record(self, items: list[PlannedItem]) -> PlatformError | None:
        run, deps = self._run, self._deps
        result = await execute_batch(
            run.context, items, run.client, concurrency=run.concurrency, slots=self._slots
        )
        # The ledger is durable before the events leave: a redelivery replays, never re-creates.
        await ledger.record_activations(
            deps.pool,
            org_id=run.context.org_id,
            connection_id=run.connection.id,
            run_id=run.context.run_id,
            writes=result.ledger,
        )
        await deps.publisher.publish(result.events)
        for event in result.events:
            ITEMS_PUSHED.labels(run.connection.platform, event.outcome.value).inc()
        return result.auth_error

    async def _drain(self, *, keep: int) -> bool:
        """Await the oldest batches until `keep` are in flight, moving the cursor past each; False once
        the lease is lost (the batch is recorded, but the cursor belongs to the run's new holder)."""
        while len(self._in_flight) > keep:
            flight = self._in_flight.popleft()
            self._refusal = self._refusal or await flight.task
            if not await self._keeper.save(flight.cursor.stored()):
                self._log.warning("push_lease_lost")
                return False
        return True

    async def _close(self) -> None:
        run, deps = self._run, self._deps
        if isinstance(run.client, ConfirmingPlatformClient) and not run.dry_run:
            await run.confirm(self._log)
        refusal = self._refusal or self._slots.rejected
        reason = f"the platform refused the credentials: {refusal.message}" if refusal else None
        await finish_run(deps, run.command_ref, failed_reason=reason)
        await self._keeper.finish()
        self._log.info("push_run_finished", auth_failed=refusal is not None)
