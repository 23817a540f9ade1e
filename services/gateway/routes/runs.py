"""Push and sync runs: created with their command in one transaction, served from Postgres."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Body, Depends, Header, Response

from services.gateway.deps import AppSettings, OrgId, Pool
from services.gateway.metrics import RUNS_STARTED
from services.gateway.problems import run_refused
from services.gateway.run_documents import counted, run_of, run_status
from services.gateway.run_progress import Progress
from services.gateway.schemas import ReconcileRequest, RunAccepted, RunRequest, RunStatusOut, SyncRunRequest
from shared.db import runs as repo
from shared.messages import RunMode
from shared.runs.commands import queue_command, sync_step_for
from shared.runs.start import PushSpec, RunRefused, SyncSpec, start_run
from shared.settings import Settings

router = APIRouter(prefix="/api/connections/{connection_id}", tags=["runs"])

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="Repeat a request safely: the same key of the org names the run of its first request.",
    ),
]


class RunStarter:
    """Starts a run for the request's org and connection, honouring its Idempotency-Key."""

    def __init__(
        self,
        connection_id: uuid.UUID,
        org_id: OrgId,
        pool: Pool,
        settings: AppSettings,
        response: Response,
        idempotency_key: IdempotencyKey = None,
    ) -> None:
        self.connection_id, self.org_id, self.pool, self.settings = connection_id, org_id, pool, settings
        self._response, self._idempotency_key = response, idempotency_key

    async def start(self, spec: PushSpec | SyncSpec) -> RunAccepted:
        """Create the run with its command, or answer with the run an earlier request with the key made."""
        try:
            started = await start_run(
                self.pool,
                self.settings,
                org_id=self.org_id,
                connection_id=self.connection_id,
                spec=spec,
                idempotency_key=self._idempotency_key,
            )
        except RunRefused as refused:
            raise run_refused(refused) from refused
        run = started.run
        if started.created:
            RUNS_STARTED.labels(run.kind).inc()
        else:
            self._response.headers["Idempotent-Replayed"] = "true"
        count_status = "counted" if run.kind == "push" else None
        return RunAccepted(run_id=run.id, status=run.status, total=run.total, count_status=count_status)


Starter = Annotated[RunStarter, Depends()]


# No body, an empty body, `null` and `{}` all mean the defaults, as the guide starts runs.
PushRunBody = Annotated[
    RunRequest | None,
    Body(description="Omit for every active topic, auto mode", examples=[{"dryRun": False, "mode": "auto"}]),
]
SyncRunBody = Annotated[
    SyncRunRequest | None, Body(description="Omit for auto mode", examples=[{"mode": "auto"}])
]


@router.post("/push/run", status_code=202)
async def start_push_run(starter: Starter, body: PushRunBody = None) -> RunAccepted:
    """Start a push run; a push-worker drives it (auto) or each /push call advances a batch (step)."""
    body = body or RunRequest()
    spec = PushSpec(topic_ids=body.topic_ids, dry_run=body.dry_run, mode=RunMode(body.mode))
    return await starter.start(spec)


ReconcileBody = Annotated[
    ReconcileRequest | None,
    Body(description="Omit to report drift without repairing it", examples=[{"repair": False}]),
]


@router.post("/reconcile", status_code=202)
async def start_reconcile_run(starter: Starter, body: ReconcileBody = None) -> RunAccepted:
    """Start a reconcile run: a push run that reads every live segment back from the platform and plans
    against what it finds. Each item's `plannedAction` names the drift (`create:missing`,
    `update:renamed`, `unchanged:deactivated`, `unchanged:unreadable`); with `repair` the drift is
    pushed away, except a deactivation made on the platform, which is reported and left to a person."""
    body = body or ReconcileRequest()
    spec = PushSpec(topic_ids=body.topic_ids, dry_run=not body.repair, reconcile=True)
    return await starter.start(spec)


@router.post("/sync/run", status_code=202)
async def start_sync_run(starter: Starter, progress: Progress, body: SyncRunBody = None) -> RunAccepted:
    """Start a sync run and fetch its count: the answer carries the source's total when its count
    endpoint answered within SYNC_COUNT_WAIT_S (`countStatus: counted`), else `pending` or `none`."""
    body = body or SyncRunRequest()
    accepted = await starter.start(SyncSpec(mode=RunMode(body.mode)))
    return await counted(starter.pool, progress, starter.settings, starter.org_id, accepted)


@router.get("/push/run/{run_id}/status")
async def push_run_status(
    connection_id: uuid.UUID, run_id: uuid.UUID, org_id: OrgId, pool: Pool, settings: AppSettings
) -> RunStatusOut:
    """Progress and outcome of a push run."""
    return await run_status(pool, settings, await run_of(pool, org_id, connection_id, run_id, "push"))


@router.get("/sync/run/{run_id}/status")
async def sync_run_status(
    connection_id: uuid.UUID, run_id: uuid.UUID, org_id: OrgId, pool: Pool, settings: AppSettings
) -> RunStatusOut:
    """Progress and outcome of a sync run."""
    return await run_status(pool, settings, await run_of(pool, org_id, connection_id, run_id, "sync"))


async def _cancel(
    pool: asyncpg.Pool[Any],
    settings: Settings,
    org_id: uuid.UUID,
    connection_id: uuid.UUID,
    run_id: uuid.UUID,
    kind: str,
) -> RunStatusOut:
    await run_of(pool, org_id, connection_id, run_id, kind)
    run = await repo.request_cancel(pool, org_id, run_id)
    assert run is not None
    return await run_status(pool, settings, run)


@router.post("/push/run/{run_id}/cancel")
async def cancel_push_run(
    connection_id: uuid.UUID, run_id: uuid.UUID, org_id: OrgId, pool: Pool, settings: AppSettings
) -> RunStatusOut:
    """Stop a push run at the next batch boundary."""
    return await _cancel(pool, settings, org_id, connection_id, run_id, "push")


@router.post("/sync/run/{run_id}/cancel")
async def cancel_sync_run(
    connection_id: uuid.UUID, run_id: uuid.UUID, org_id: OrgId, pool: Pool, settings: AppSettings
) -> RunStatusOut:
    """Stop a sync run at the next page boundary; its checkpoint is kept."""
    status = await _cancel(pool, settings, org_id, connection_id, run_id, "sync")
    if status.mode == "step" and status.status == "running":
        # Nobody drives an idle step run: one step lets a worker close it at its page boundary.
        async with pool.acquire() as connection, connection.transaction():
            run = await run_of(connection, org_id, connection_id, run_id, "sync")
            await queue_command(connection, settings, sync_step_for(run, pages_committed=run.pages))
    return status
