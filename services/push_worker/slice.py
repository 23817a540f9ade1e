"""One slice of a push run under its lease: batches from the run's cursor until the slice's budget is
spent, each batch's ledger rows durable before its events leave and the cursor moved only past
recorded batches, so whoever takes the run next resumes exactly there."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

import structlog
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential

from services.push_worker.execute import RunContext, abandoned_events, execute_batch, plan_events
from services.push_worker.plan import PlannedItem
from services.push_worker.reader import PushCursor
from shared.connectors.batch import CallSlots
from shared.connectors.errors import PlatformError
from shared.connectors.protocol import PlatformClient
from shared.db.activations import ActivationWrite
from shared.db.pool import POSTGRES_CONNECTION_LOST
from shared.messages import ItemResult

log = structlog.get_logger(__name__)

LEDGER_OUTAGE_S = 120.0  # how long a slice's Postgres calls wait for Postgres before the slice fails


T = TypeVar("T")


async def outlasting_postgres(call: Callable[[], Awaitable[T]]) -> T:
    """`call`, tried again through a Postgres outage of up to LEDGER_OUTAGE_S. A slice that failed with
    creates in flight would leave them unrecorded, and the next holder would make them again where
    creates carry no key (LiveRamp); waiting keeps the batches in flight and records them."""
    async for attempt in AsyncRetrying(
        retry=retry_if_exception_type(POSTGRES_CONNECTION_LOST),
        stop=stop_after_delay(LEDGER_OUTAGE_S),
        wait=wait_exponential(multiplier=0.1, max=1.0),
        reraise=True,
    ):
        with attempt:
            return await call()
    raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover


@dataclass(frozen=True, slots=True)
class SliceBudget:
    """How much of a run one slice pushes before giving the run back."""

    batches: int
    seconds: float
    # An auto run's slice goes on past its budget while nobody waits; a step batch never does.
    extendable: bool = True


class BatchSource(Protocol):
    """The run's batches in order, each with the cursor past it (services/push_worker/reader.py)."""

    async def next_batch(self) -> tuple[list[PlannedItem], PushCursor] | None: ...


class SliceLease(Protocol):
    """The slice's hold on its run's lane (shared/runs/executor.py LeaseKeeper; lanes: shared/runs/lanes.py)."""

    @property
    def lost(self) -> bool: ...

    @property
    def lane(self) -> int: ...

    async def save(self, cursor: dict[str, object]) -> bool: ...

    async def finish(self, *, failed_reason: str | None = None) -> None: ...

    async def contended(self) -> bool: ...

    async def other_lanes_open(self) -> bool: ...

    async def lanes_failure(self) -> str | None: ...

    async def wait_for_lanes(self, failed_reason: str | None) -> None: ...


class RunRecords(Protocol):
    """What a slice reads and writes besides the platform: cancel, ledger, events, the run's end."""

    async def cancel_requested(self) -> bool: ...

    async def record(self, writes: Sequence[ActivationWrite]) -> None: ...

    async def publish(self, events: list[ItemResult]) -> None: ...

    async def confirm(self) -> None: ...

    async def finish(self, *, cancelled: bool = False, failed_reason: str | None = None) -> None: ...


@dataclass(frozen=True, slots=True)
class SliceTarget:
    """Where a slice pushes: the platform client and how the run is to be pushed there."""

    client: PlatformClient
    context: RunContext
    concurrency: int
    batches_in_flight: int
    dry_run: bool


@dataclass
class _InFlight:
    task: asyncio.Task[PlatformError | None]
    cursor: PushCursor


class PushSlice:
    """Pushes batches of one run until its budget, a cancel, a stop, a lost lease or the run's end."""

    def __init__(
        self,
        lease: SliceLease,
        records: RunRecords,
        target: SliceTarget,
        budget: SliceBudget,
        stopping: asyncio.Event,
    ) -> None:
        self._lease = lease
        self._records = records
        self._target = target
        self._budget = budget
        self._stopping = stopping
        self._slots = CallSlots(target.concurrency)
        self._in_flight: deque[_InFlight] = deque()
        self._refusal: PlatformError | None = None
        self._log = log.bind(run_id=str(target.context.run_id))

    async def run(self, batches: BatchSource) -> None:
        """Work the slice; the run is finished here when its last item is recorded."""
        deadline = time.monotonic() + self._budget.seconds
        planned = 0
        try:
            while True:
                refused = self._refusal or self._slots.rejected
                over_budget = planned >= self._budget.batches or time.monotonic() >= deadline
                if refused is None and (over_budget or self._leaving):
                    boundary = await self._boundary(batches, planned)
                    if boundary == "go on":
                        planned, deadline = 0, time.monotonic() + self._budget.seconds
                        continue
                    if boundary == "leave":
                        return
                    if boundary == "end":
                        break
                    continue  # refused in the last batches: end the run now, without the platform
                # Waits out a Postgres outage too: a slice failed here would drop the batches in flight.
                if await outlasting_postgres(self._records.cancel_requested):
                    await self._drain(keep=0)
                    await self._end(cancelled=True)
                    return
                batch = await batches.next_batch()
                if batch is None:
                    break
                planned += 1
                if not await self._push(*batch, refused):
                    return
            if not await self._drain(keep=0):
                return
        finally:
            for flight in self._in_flight:
                flight.task.cancel()
            await asyncio.gather(*(flight.task for flight in self._in_flight), return_exceptions=True)
        await self._close()

    @property
    def _leaving(self) -> bool:
        return self._stopping.is_set() or self._lease.lost

    async def _boundary(self, batches: BatchSource, planned: int) -> str:
        """At the budget or a stop: `go on` (nobody waits), `leave` (the run is handed back), `end` (its
        last batch was this slice's last) or `refused` (a refusal came in with the last batches)."""
        if (
            self._budget.extendable
            and not self._leaving
            and not await outlasting_postgres(self._lease.contended)
        ):
            return "go on"
        if not await self._drain(keep=0):
            return "leave"
        if not self._leaving and (self._refusal or self._slots.rejected) is not None:
            return "refused"
        if await batches.next_batch() is None:
            return "end"
        if self._leaving:
            self._log.info("push_run_handed_over", batches_recorded=planned)
        return "leave"  # the cursor says where to resume

    async def _push(
        self, items: list[PlannedItem], cursor: PushCursor, refused: PlatformError | None
    ) -> bool:
        """Start (or, without platform calls, record) one batch; False once the lease is lost."""
        context = self._target.context
        if self._target.dry_run or refused is not None:
            events = (
                plan_events(context, items) if refused is None else abandoned_events(context, items, refused)
            )
            await self._records.publish(events)
            return await self._drain(keep=0) and await self._save(cursor)
        if not await self._drain(keep=self._target.batches_in_flight - 1):
            return False
        self._in_flight.append(_InFlight(asyncio.create_task(self._record(items)), cursor))
        return True

    async def _record(self, items: list[PlannedItem]) -> PlatformError | None:
        target = self._target
        result = await execute_batch(
            target.context,
            items,
            target.client,
            concurrency=target.concurrency,
            slots=self._slots,
            record=self._keep,
        )
        # The ledger is durable before the events leave: a redelivery replays, never re-creates.
        await self._keep(result.ledger)
        await self._records.publish(result.events)
        return result.auth_error

    async def _keep(self, writes: Sequence[ActivationWrite]) -> None:
        """Write ledger rows, waiting out a Postgres outage: what the platform has made is only known here,
        and a slice failed for it would make it again where creates carry no key."""
        await outlasting_postgres(lambda: self._records.record(writes))

    async def _drain(self, *, keep: int) -> bool:
        """Await the oldest batches until `keep` are in flight, moving the cursor past each; False once
        the lease is lost (the batch is recorded, but the cursor belongs to the run's new holder)."""
        while len(self._in_flight) > keep:
            flight = self._in_flight.popleft()
            self._refusal = self._refusal or await flight.task
            if not await self._save(flight.cursor):
                return False
        return True

    async def _save(self, cursor: PushCursor) -> bool:
        if await outlasting_postgres(lambda: self._lease.save(cursor.stored())):
            return True
        self._log.warning("push_lease_lost")
        return False

    async def _close(self) -> None:
        refusal = self._refusal or self._slots.rejected
        reason = f"the platform refused the credentials: {refusal.message}" if refusal else None
        await self._end(failed_reason=reason, confirm=not self._target.dry_run)

    async def _end(
        self, *, cancelled: bool = False, failed_reason: str | None = None, confirm: bool = False
    ) -> None:
        """The lane's range is done (or the run cancelled): another lane closes itself; lane 0 waits for
        the other lanes, then (asked once whether any is open, so a lane closing meanwhile cannot make it
        skip the confirmation) confirms the platform's pending writes and publishes the run's end."""
        lease = self._lease
        if lease.lane:
            await lease.finish(failed_reason=failed_reason)
            self._log.info("push_lane_finished", lane=lease.lane, auth_failed=failed_reason is not None)
            return
        if await lease.other_lanes_open():
            await lease.wait_for_lanes(failed_reason)
            self._log.info("push_lane_waiting_for_lanes", cancelled=cancelled)
            return
        if confirm:
            await self._records.confirm()
        failed_reason = failed_reason or await lease.lanes_failure()
        await self._records.finish(cancelled=cancelled, failed_reason=None if cancelled else failed_reason)
        await lease.finish()
        self._log.info("push_run_finished", cancelled=cancelled, auth_failed=failed_reason is not None)
