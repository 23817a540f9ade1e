"""Push commands and push slices: a command opens its run at once; slices of it are then worked by
whichever replica is free (auto runs), or one batch per step command (step runs)."""

from __future__ import annotations

import structlog

from services.push_worker.reader import PlanReader, PushCursor
from services.push_worker.run_setup import (
    PushDependencies,
    RunRef,
    finish_run,
    open_run,
    run_total,
    started_event,
)
from services.push_worker.slice import PushSlice, SliceBudget
from shared.db.runs import get_run_by_id
from shared.messages import PushCommand, RunMode
from shared.messaging.worker_app import step_lease
from shared.runs import leases
from shared.runs.executor import LeaseKeeper
from shared.runs.lanes import lane_range, lanes_for
from shared.tracing import current_trace_headers

log = structlog.get_logger(__name__)


async def work_push_slice(
    keeper: LeaseKeeper, deps: PushDependencies, budget: SliceBudget, *, step: int | None = None
) -> None:
    """Push one slice of the leased run's lane from its cursor (a step command: exactly its one batch)."""
    run = await get_run_by_id(deps.pool, keeper.lease.run_id)
    if run is None or run.is_terminal:
        await keeper.finish_run()
        return
    cursor = PushCursor.of(keeper.lease.cursor, lane=keeper.lane)
    if step is not None and step < cursor.batches:
        log.info("push_step_ignored", run_id=str(run.id), batch_index=step, reason="already pushed")
        return
    lease = keeper.lease
    opened = await open_run(deps, run, lane=lease.lane, lanes=lease.lanes)
    if opened is None:
        await keeper.finish_run()
        return
    try:
        if not cursor.started:  # lane 0's first slice: count the run, split an auto run into lanes
            total = await run_total(deps.pool, run)
            if step is None and lease.lanes == 1:  # not decided yet (a redone start keeps its lanes)
                settings = deps.settings
                most = min(settings.push_run_lanes, opened.concurrency)  # a lane keeps one call at least
                wanted = lanes_for(total, most=most, min_items=settings.push_lane_min_items)
                opened.share(0, await keeper.split(wanted))
            await deps.publisher.publish([started_event(RunRef(run.id, run.org_id), total)])
            log.info(
                "push_run_started",
                run_id=str(run.id),
                total=total,
                dry_run=run.dry_run,
                lanes=keeper.lease.lanes,
            )
            await keeper.open_lanes()  # after the start: no lane's items reach the recorder before it
            cursor = cursor.model_copy(update={"started": True})
            if not await keeper.save(cursor.stored()):
                return
        ids = lane_range(keeper.lane, keeper.lease.lanes)
        reader = PlanReader(deps.pool, opened.plan, cursor, deps.settings.activation_batch_size, ids=ids)
        await PushSlice(keeper, opened, opened.target(), budget, deps.stopping).run(reader)
    finally:
        await opened.close()


async def give_up_push(keeper: LeaseKeeper, deps: PushDependencies, reason: str) -> None:
    """Fail a run whose slices kept raising, with the reason (the recorder closes it); every lane stops."""
    lease = keeper.lease
    await finish_run(deps, RunRef(lease.run_id, lease.org_id), failed_reason=reason)
    await keeper.finish_run()


def slice_budget(deps: PushDependencies) -> SliceBudget:
    """An auto run's slice: at most RUN_SLICE_BATCHES batches or RUN_SLICE_S seconds."""
    return SliceBudget(batches=deps.settings.run_slice_batches, seconds=deps.settings.run_slice_s)


async def handle_push(command: PushCommand, deps: PushDependencies) -> bool:
    """Take a push command: open an auto run for every replica's slices (True: look for work now), or
    push a step run's one batch under the run's lease. Safe to repeat (redelivery)."""
    if command.mode is RunMode.AUTO:
        accepted = await leases.accept(deps.pool, command.run_id, current_trace_headers())
        if not accepted:
            log.info("push_command_ignored", run_id=str(command.run_id), reason="run finished or gone")
        return accepted
    await _step(command, deps)
    return False


async def _step(command: PushCommand, deps: PushDependencies) -> None:
    async with step_lease(deps.pool, deps.settings, command.run_id, "push") as keeper:
        if keeper is None:
            return  # finished or gone meanwhile
        await work_push_slice(
            keeper,
            deps,
            SliceBudget(batches=1, seconds=float("inf"), extendable=False),
            step=command.batch_index or 0,
        )
