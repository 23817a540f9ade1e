"""Push-run extras: step mode, retry of the failed items, and the connection's activation ledger."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from services.gateway.deps import AppSettings, OrgId, Pool
from services.gateway.problems import Problem, not_found, run_refused
from services.gateway.run_documents import run_of
from services.gateway.run_progress import Progressed, moved_past
from services.gateway.run_steps import StepCall
from services.gateway.schemas import ActivationOut, ActivationPage, RunAccepted, RunStatusOut
from shared.db import activations as ledger
from shared.db import connections
from shared.db import runs as repo
from shared.db.pool import DbConnection
from shared.messages import RunMode
from shared.runs.commands import command_for, queue_command
from shared.runs.retries import start_retry
from shared.runs.start import RunRefused

router = APIRouter(prefix="/api/connections/{connection_id}", tags=["runs"])

ActivationState = Literal["active", "pending", "failed", "inactive"]


def _batch_recorded(processed: int) -> Progressed:
    return lambda now: now.processed >= processed and now.started_at is not None


@router.post("/push/run/{run_id}/push")
async def push_next_batch(call: StepCall) -> RunStatusOut:
    """Push the next batch and answer once it is recorded (the guide's loop); for an auto run, whose
    worker pushes on its own, answer once it has recorded more than before (or at the step timeout)."""
    settings = call.settings
    size = settings.activation_batch_size

    async def step(connection: DbConnection, run: repo.Run) -> Progressed:
        if run.mode != RunMode.STEP:
            return moved_past(run)
        index = await repo.claim_next_step(connection, run.id)
        if index > 0 and index * size >= run.total:
            return _batch_recorded(run.total)  # every batch is requested: wait for the last
        await queue_command(connection, settings, command_for(run, batch_index=index))
        return _batch_recorded(min(run.total, (index + 1) * size))

    return await call.hold("push", step)


@router.post("/push/run/{run_id}/retry", status_code=202)
async def retry_failed(
    connection_id: uuid.UUID, run_id: uuid.UUID, org_id: OrgId, pool: Pool, settings: AppSettings
) -> RunAccepted:
    """Start a child run of just the items that failed in a finished run."""
    parent = await run_of(pool, org_id, connection_id, run_id, "push")
    if not parent.is_terminal:
        raise Problem(409, "Run not finished", "Retry a run once it has finished")
    try:
        async with pool.acquire() as connection, connection.transaction():
            run = await start_retry(connection, settings, parent, automatic=False)
    except RunRefused as refused:
        raise run_refused(refused) from refused
    if run is None:
        raise Problem(409, "Nothing to retry", "The run has no failed items")
    return RunAccepted(run_id=run.id, status=run.status, total=run.total)


@router.get("/activations")
async def list_activations(
    connection_id: uuid.UUID,
    org_id: OrgId,
    pool: Pool,
    limit: int = Query(default=100, ge=1, le=1000),
    cursor: uuid.UUID | None = None,
    state: Annotated[
        list[ActivationState] | None,
        Query(description="Only activations in these states (repeat for several), e.g. `pending`"),
    ] = None,
) -> ActivationPage:
    """Topic → platform segment id, state and last push, for one connection. `pending`: written, the
    platform's review or processing not finished yet (asked about again by the review poller)."""
    if await connections.get_connection(pool, org_id, connection_id) is None:
        raise not_found("connection")
    rows = await ledger.list_activations(
        pool, org_id, connection_id, limit=limit + 1, after=cursor, states=state
    )
    page = rows[:limit]
    return ActivationPage(
        items=[ActivationOut.model_validate(row, from_attributes=True) for row in page],
        next_cursor=str(page[-1].topic_id) if len(rows) > limit else None,
    )
