"""A run as the API shows it: found by connection and kind, its status document, its sync count."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import asyncpg

from services.gateway.problems import not_found
from services.gateway.run_progress import RunProgress, started
from services.gateway.schemas import RunAccepted, RunErrorOut, RunStatusOut, RunSummaryOut
from shared.db import connections, reviews
from shared.db import runs as repo
from shared.db.pool import Db, PgPool
from shared.settings import Settings


async def counted(
    pool: PgPool, progress: RunProgress, settings: Settings, org_id: uuid.UUID, accepted: RunAccepted
) -> RunAccepted:
    """A sync run's acceptance with the source's count, once the worker fetched it (or `pending`)."""
    run = await repo.get_run(pool, org_id, accepted.run_id)
    connection = await connections.get_connection(pool, org_id, run.connection_id) if run else None
    if run is None or connection is None:
        return accepted
    if not connection.config.get("count_endpoint"):
        return accepted.model_copy(update={"count_status": "none"})
    run = await progress.wait(pool, org_id, run, started, timeout_s=settings.sync_count_wait_s)
    if run.started_at is None:
        return accepted.model_copy(update={"status": run.status, "count_status": "pending"})
    return accepted.model_copy(update={"status": run.status, "total": run.total, "count_status": "counted"})


# The document's fields that are the run's own under the same name; the sync counters only for a sync run.
_SYNC_FIELDS = ("inserted", "updated", "unchanged", "invalid", "pages")
_RUN_FIELDS = tuple(
    name
    for name in RunSummaryOut.model_fields
    if name in {field.name for field in dataclasses.fields(repo.Run)} and name not in _SYNC_FIELDS
)


async def run_status(pool: asyncpg.Pool[Any], settings: Settings, run: repo.Run) -> RunStatusOut:
    """The status document of a run, with at most the stored error records."""
    errors = await repo.run_errors(pool, run.id, settings.max_run_errors_stored)
    document = status_document(run, errors)
    if run.kind == "push" and not run.dry_run and run.started_at is not None:
        document.pending_review = await reviews.pending_of_run(pool, run.id)
    return document


def status_document(run: repo.Run, errors: list[repo.RunError]) -> RunStatusOut:
    """The status document of a run with the given error records."""
    return RunStatusOut(
        **dict(summary_document(run)),
        errors=[RunErrorOut.model_validate(error, from_attributes=True) for error in errors],
    )


def summary_document(run: repo.Run) -> RunSummaryOut:
    """The run as history lists show it: its status document without the error records."""
    fields = _RUN_FIELDS + _SYNC_FIELDS if run.kind == "sync" else _RUN_FIELDS
    return RunSummaryOut(
        run_id=run.id,
        done=run.is_terminal,
        next_retry_at=run.retry_due_at,
        **{name: getattr(run, name) for name in fields},
    )


async def run_of(
    pool: Db, org_id: uuid.UUID, connection_id: uuid.UUID, run_id: uuid.UUID, kind: str
) -> repo.Run:
    run = await repo.get_run(pool, org_id, run_id)
    if run is None or run.connection_id != connection_id or run.kind != kind:
        raise not_found("run")
    return run
