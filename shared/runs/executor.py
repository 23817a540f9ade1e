"""Executes open runs slice by slice: each replica claims the run that waited longest, works one slice
under a lease renewed in the background, and gives the run back for whoever is free next."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog

from shared.db.pool import POSTGRES_UNAVAILABLE, PgPool
from shared.runs import lanes, leases
from shared.runs.leases import Lease
from shared.tracing import context_from_headers, tracer

log = structlog.get_logger(__name__)

_DB_ERRORS = POSTGRES_UNAVAILABLE


class LeaseKeeper:
    """Renews a held lease every third of its lifetime; `lost` once another holder may have it."""

    def __init__(self, pool: PgPool, lease: Lease, ttl_s: float, kind: str) -> None:
        self._pool = pool
        self.lease = lease
        self._kind = kind
        self._ttl_s = ttl_s
        self.lost = False
        self.released = False
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LeaseKeeper:
        self._task = asyncio.create_task(self._renew())
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _renew(self) -> None:
        while not self.lost:
            await asyncio.sleep(self._ttl_s / 3)
            try:
                self.lost = not await leases.renew(self._pool, self.lease, self._ttl_s)
            except _DB_ERRORS as exc:
                log.warning(
                    "lease_renewal_failed", run_id=str(self.lease.run_id), error_type=type(exc).__name__
                )

    @property
    def lane(self) -> int:
        """Which lane of its run the lease holds (0: the run's own)."""
        return self.lease.lane

    async def contended(self) -> bool:
        """Whether another connection's run waits for a slice: without one, a slice may go on."""
        return await leases.others_waiting(self._pool, self.lease, self._kind)

    async def save(self, cursor: dict[str, object]) -> bool:
        """Move the resume point; False (and `lost`) when the lease is gone."""
        saved = not self.lost and await leases.save_cursor(self._pool, self.lease, cursor)
        self.lost = self.lost or not saved
        return saved

    async def finish(self, *, failed_reason: str | None = None) -> None:
        """The lane's work is complete: lane 0 closes the run to every claimer; another lane closes
        itself, keeping why its work failed (if it did) for lane 0's close."""
        await leases.finish_work(self._pool, self.lease, failed_reason=failed_reason)
        self.released = True

    async def finish_run(self) -> None:
        """Close the whole run's work from any lane (it is given up): every lane stops."""
        await lanes.close_run_work(self._pool, self.lease.run_id)
        await self.finish()

    async def split(self, wanted: int) -> int:
        """Lane 0 at the run's first slice: keep how many lanes the run has (the first decision stands)."""
        decided = await lanes.decide(self._pool, self.lease.run_id, wanted)
        self.lease = dataclasses.replace(self.lease, lanes=decided)
        return decided

    async def open_lanes(self) -> None:
        """Make the run's lanes 1.. claimable (once its start is published)."""
        if self.lease.lanes > 1:
            await lanes.open_lanes(self._pool, self.lease.run_id, self.lease.lanes)

    async def other_lanes_open(self) -> bool:
        """Whether another lane of the run still has work (lane 0 then waits for it to close)."""
        return self.lease.lanes > 1 and await lanes.others_open(self._pool, self.lease.run_id)

    async def lanes_failure(self) -> str | None:
        """Why another lane's work failed, for the run's close."""
        return await lanes.failure(self._pool, self.lease.run_id) if self.lease.lanes > 1 else None

    async def wait_for_lanes(self, failed_reason: str | None) -> None:
        """Lane 0's range is done but other lanes' are not: give it back until they are."""
        self.released = True
        await leases.release(self._pool, self.lease, wait_for_lanes=failed_reason or "")

    async def release(self) -> None:
        """Give the run back at a slice boundary."""
        if not self.released:
            self.released = True
            await leases.release(self._pool, self.lease)


SliceWork = Callable[[LeaseKeeper], Awaitable[None]]
"""Work one slice of the leased run; call `keeper.finish()` when the run's work is complete."""

GiveUp = Callable[[LeaseKeeper, str], Awaitable[None]]
"""Fail the leased run with the reason (its slices kept raising); call `keeper.finish()`."""


@dataclass(frozen=True, slots=True)
class ExecutorSettings:
    kind: str
    slots: int  # slices in progress at once in this process
    lease_ttl_s: float
    poll_s: float
    max_slice_failures: int = 5  # slices in a row that raised before the run is failed
    holder: str | None = None  # WORKER_INSTANCE_ID, written on every lease this process takes
    lanes: bool = False  # runs of this kind may be split into lanes (shared/runs/lanes.py)


class RunExecutor:
    """One per worker process and run kind; `wake()` when a command of this process opened a run."""

    def __init__(
        self,
        pool: PgPool,
        settings: ExecutorSettings,
        work: SliceWork,
        stopping: asyncio.Event,
        give_up: GiveUp | None = None,
    ) -> None:
        self._pool = pool
        self._settings = settings
        self._work = work
        self._give_up = give_up
        self._stopping = stopping
        self._woken = asyncio.Event()
        self._slices: dict[tuple[uuid.UUID, int], asyncio.Task[None]] = {}  # by (run, lane)

    def wake(self) -> None:
        """Look for work now instead of at the next poll."""
        self._woken.set()

    @property
    def in_progress(self) -> int:
        """Slices being worked in this process."""
        return len(self._slices)

    async def run(self) -> None:
        """Claim and work slices until `stopping` is set; then wait for the slices in progress."""
        settings = self._settings
        failed_claims = 0  # in a row: an outage is logged when it starts and when it ends, not per poll
        try:
            while not self._stopping.is_set():
                self._woken.clear()
                try:
                    await self._claim_free_slots()
                    if failed_claims:
                        log.info("run_claims_recovered", kind=settings.kind, failed_claims=failed_claims)
                    failed_claims = 0
                except _DB_ERRORS as exc:
                    if not failed_claims:
                        log.warning("run_claim_failed", kind=settings.kind, error_type=type(exc).__name__)
                    failed_claims += 1
                except Exception:
                    # Nothing may end this loop but `stopping`: a worker whose loop died would stay alive
                    # and ready while no run of its kind is worked any more.
                    log.exception("run_claim_failed_unexpectedly", kind=settings.kind)
                    failed_claims += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._woken.wait(), timeout=settings.poll_s)
        finally:
            await asyncio.gather(*self._slices.values(), return_exceptions=True)

    async def _claim_free_slots(self) -> None:
        settings = self._settings
        while len(self._slices) < settings.slots and not self._stopping.is_set():
            lease = await self._claim()
            if lease is None:
                return
            self._start(lease)

    async def _claim(self) -> Lease | None:
        """A run's next slice, else a lane of a run already going (a slice at its budget gives its run
        back while either waits, so neither waits longer than a slice)."""
        settings = self._settings
        lease = await leases.claim_next(
            self._pool,
            settings.kind,
            settings.lease_ttl_s,
            holding={run_id for run_id, lane in self._slices if lane == 0},
            holder=settings.holder,
        )
        if lease is not None or not settings.lanes:
            return lease
        return await lanes.claim_lane(
            self._pool,
            settings.kind,
            settings.lease_ttl_s,
            holding=set(self._slices),
            grace_s=lanes.LANE_GRACE_POLLS * settings.poll_s,
            holder=settings.holder,
        )

    def _start(self, lease: Lease) -> None:
        task = asyncio.create_task(self._slice(lease))
        self._slices[lease.key] = task

        def done(_task: asyncio.Task[None]) -> None:
            self._slices.pop(lease.key, None)
            self._woken.set()  # a free slot: claim again

        task.add_done_callback(done)

    async def _failed(self, keeper: LeaseKeeper, exc: Exception) -> None:
        # The lease is kept until it expires: the run is retried a lease later, not in a hot loop; after
        # `max_slice_failures` slices in a row it is failed with the error instead of retried forever.
        keeper.released = True
        try:
            failures = await leases.record_failure(self._pool, keeper.lease)
            if self._give_up is not None and failures >= self._settings.max_slice_failures:
                reason = f"{failures} slices in a row failed, the last with {type(exc).__name__}: {exc}"
                await self._give_up(keeper, reason[:500])
        except _DB_ERRORS as db_exc:
            log.warning(
                "run_failure_not_recorded", run_id=str(keeper.lease.run_id), error_type=type(db_exc).__name__
            )

    async def _slice(self, lease: Lease) -> None:
        bound = log.bind(
            run_id=str(lease.run_id),
            connection_id=str(lease.connection_id),
            kind=self._settings.kind,
            lane=lease.lane,
        )
        # The slice continues the trace its run's command arrived in, whichever replica works it.
        parent = context_from_headers(lease.trace_context or {})
        span_name = f"{self._settings.kind} run slice"
        with tracer.start_as_current_span(
            span_name, context=parent, attributes={"run_id": str(lease.run_id)}
        ):
            await self._slice_under_lease(lease, bound)

    async def _slice_under_lease(self, lease: Lease, bound: structlog.stdlib.BoundLogger) -> None:
        async with LeaseKeeper(self._pool, lease, self._settings.lease_ttl_s, self._settings.kind) as keeper:
            try:
                await self._work(keeper)
            except Exception as exc:
                bound.exception("run_slice_failed", error_type=type(exc).__name__)
                await self._failed(keeper, exc)
                return
            try:
                await keeper.release()
            except _DB_ERRORS as exc:
                bound.warning("run_release_failed", error_type=type(exc).__name__)
