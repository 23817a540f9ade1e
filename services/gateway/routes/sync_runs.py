"""Sync-run extras: step mode (one page per call) and the records a run rejected."""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi import APIRouter, Query

from services.gateway.deps import OrgId, Pool
from services.gateway.run_documents import run_of
from services.gateway.run_progress import Progressed, moved_past
from services.gateway.run_steps import StepCall
from services.gateway.schemas import RunStatusOut, SyncRejectOut, SyncRejectPage
from shared.db import runs as repo
from shared.db.pool import DbConnection
from shared.db.sync_rejects import SyncReject, list_rejects
from shared.messages import RunMode
from shared.runs.commands import queue_command, sync_step_for

router = APIRouter(prefix="/api/connections/{connection_id}", tags=["runs"])


@router.post("/sync/run/{run_id}/page")
async def sync_next_page(call: StepCall) -> RunStatusOut:
    """Sync the next page and answer once it is committed (the guide's loop); for an auto run, whose
    worker pages on its own, answer once it has committed more than before (or at the step timeout)."""

    async def step(connection: DbConnection, run: repo.Run) -> Progressed:
        if run.mode != RunMode.STEP:
            return moved_past(run)
        await queue_command(connection, call.settings, sync_step_for(run, pages_committed=run.pages))
        return lambda now: now.pages > run.pages

    return await call.hold("sync", step)


def _payload(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _reject_out(reject: SyncReject) -> SyncRejectOut:
    out = SyncRejectOut.model_validate(reject, from_attributes=True)
    return out.model_copy(update={"payload": _payload(reject.payload)})  # stored as text, served as sent


@router.get("/sync/run/{run_id}/rejects")
async def sync_run_rejects(
    connection_id: uuid.UUID,
    run_id: uuid.UUID,
    org_id: OrgId,
    pool: Pool,
    limit: int = Query(default=100, ge=1, le=1000),
    cursor: int | None = Query(default=None, ge=0),
) -> SyncRejectPage:
    """The records the run could not turn into topics, with their page, payload and reason."""
    await run_of(pool, org_id, connection_id, run_id, "sync")
    rows = await list_rejects(pool, run_id, limit=limit + 1, after=cursor)
    page = rows[:limit]
    return SyncRejectPage(
        items=[_reject_out(reject) for reject in page],
        next_cursor=str(page[-1].id) if len(rows) > limit else None,
    )
