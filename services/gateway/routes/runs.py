"""Push and sync runs: created with their command in one transaction, served from Postgres."""

from __future__ import annotations

import uuid
from typing import Any, Literal

import asyncpg
from fastapi import APIRouter

from services.gateway.deps import AppSettings, OrgId, Pool
from services.gateway.metrics import RUNS_STARTED
from services.gateway.problems import Problem, not_found
from services.gateway.schemas import RunAccepted, RunErrorOut, RunRequest, RunStatusOut, SyncRunRequest
from shared.db import outbox
from shared.db import runs as repo
from shared.db.pool import Db, DbConnection
from shared.db.topics import count_topics_for_push
from shared.messages import PushCommand, RunMode, SyncCommand, SyncStep
from shared.settings import Settings

router = APIRouter(prefix="/api/connections/{connection_id}", tags=["runs"])

_DIRECTIONS = {"push": ("outbound", "bidirectional"), "sync": ("inbound", "bidirectional")}


async def _lock_connection(
    connection: DbConnection,
    org_id: uuid.UUID,
    connection_id: uuid.UUID,
    kind: Literal["push", "sync"],
) -> None:
    row = await connection.fetchrow(
        "SELECT direction, enabled FROM platform_connections WHERE org_id = $1 AND id = $2 FOR SHARE",
        org_id,
        connection_id,
    )
    if row is None:
        raise not_found("connection")
    if row["direction"] not in _DIRECTIONS[kind]:
        raise Problem(409, "Wrong direction", f"A {row['direction']} connection cannot run a {kind}")
    if not row["enabled"]:
        raise Problem(409, "Connection disabled", "Enable the connection before starting a run")


async def enqueue_push(connection: DbConnection, settings: Settings, command: PushCommand) -> None:
    """Queue a push command in the caller's transaction (published by the outbox relay)."""
    await outbox.enqueue(
        connection,
        topic=settings.topic("push.commands"),
        key=str(command.connection_id),
        payload=command.model_dump(mode="json"),
    )


async def enqueue_sync_step(connection: DbConnection, settings: Settings, run: repo.Run) -> None:
    """Queue one page of a step-mode sync run, the page after those committed (a repeat is a no-op)."""
    step = SyncStep(run_id=run.id, org_id=run.org_id, connection_id=run.connection_id, after_page=run.pages)
    await outbox.enqueue(
        connection,
        topic=settings.topic("sync.commands"),
        key=str(run.connection_id),
        payload=step.model_dump(mode="json"),
    )


async def run_status(pool: asyncpg.Pool[Any], settings: Settings, run: repo.Run) -> RunStatusOut:
    """The status document of a run, with at most the stored error records."""
    errors = await repo.run_errors(pool, run.id, settings.max_run_errors_stored)
    sync_fields: dict[str, Any] = (
        {
            "inserted": run.inserted,
            "updated": run.updated,
            "unchanged": run.unchanged,
            "invalid": run.invalid,
            "pages": run.pages,
        }
        if run.kind == "sync"
        else {}
    )
    return RunStatusOut(
        run_id=run.id,
        connection_id=run.connection_id,
        kind=run.kind,
        status=run.status,
        status_reason=run.status_reason,
        mode=run.mode,
        dry_run=run.dry_run,
        total=run.total,
        processed=run.processed,
        succeeded=run.succeeded,
        failed=run.failed,
        skipped=run.skipped,
        error_count=run.error_count,
        errors=[RunErrorOut.model_validate(error, from_attributes=True) for error in errors],
        throttled_until=run.throttled_until,
        parent_run_id=run.parent_run_id,
        started_at=run.started_at,
        finished_at=run.finished_at,
        **sync_fields,
    )


async def run_of(
    pool: Db, org_id: uuid.UUID, connection_id: uuid.UUID, run_id: uuid.UUID, kind: str
) -> repo.Run:
    run = await repo.get_run(pool, org_id, run_id)
    if run is None or run.connection_id != connection_id or run.kind != kind:
        raise not_found("run")
    return run


@router.post("/push/run", status_code=202)
async def start_push_run(
    connection_id: uuid.UUID, body: RunRequest, org_id: OrgId, pool: Pool, settings: AppSettings
) -> RunAccepted:
    """Start a push run; a push-worker drives it (auto) or each /push call advances a batch (step)."""
    async with pool.acquire() as connection, connection.transaction():
        await _lock_connection(connection, org_id, connection_id, "push")
        total = await count_topics_for_push(connection, org_id, body.topic_ids)
        run = await repo.insert_run(
            connection,
            org_id=org_id,
            connection_id=connection_id,
            kind="push",
            mode=body.mode,
            dry_run=body.dry_run,
            total=total,
            request=body.model_dump(mode="json", by_alias=True),
        )
        if body.mode == "auto":
            # Step runs get one command per /push call instead.
            await enqueue_push(
                connection,
                settings,
                PushCommand(
                    run_id=run.id,
                    org_id=org_id,
                    connection_id=connection_id,
                    topic_ids=body.topic_ids,
                    dry_run=body.dry_run,
                    mode=RunMode.AUTO,
                ),
            )
    RUNS_STARTED.labels("push").inc()
    return RunAccepted(run_id=run.id, status=run.status, total=total)


@router.post("/sync/run", status_code=202)
async def start_sync_run(
    connection_id: uuid.UUID, body: SyncRunRequest, org_id: OrgId, pool: Pool, settings: AppSettings
) -> RunAccepted:
    """Start a sync run; a sync-worker pages through the source."""
    async with pool.acquire() as connection, connection.transaction():
        await _lock_connection(connection, org_id, connection_id, "sync")
        run = await repo.insert_run(
            connection,
            org_id=org_id,
            connection_id=connection_id,
            kind="sync",
            mode=body.mode,
            dry_run=False,
            total=0,
            request=body.model_dump(mode="json", by_alias=True),
        )
        command = SyncCommand(
            run_id=run.id, org_id=org_id, connection_id=connection_id, mode=RunMode(body.mode)
        )
        await outbox.enqueue(
            connection,
            topic=settings.topic("sync.commands"),
            key=str(connection_id),
            payload=command.model_dump(mode="json"),
        )
    RUNS_STARTED.labels("sync").inc()
    return RunAccepted(run_id=run.id, status=run.status, total=0)


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
            await enqueue_sync_step(
                connection, settings, await run_of(connection, org_id, connection_id, run_id, "sync")
            )
    return status
