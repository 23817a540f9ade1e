"""Runs and their per-item results, as the gateway creates and serves them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from pydantic import BaseModel, ConfigDict

from shared.db.pool import Db, DbConnection
from shared.runs.status import TERMINAL_STATUSES

RUN_COLUMNS = (
    "id, org_id, connection_id, kind, status, mode, dry_run, total, processed, succeeded, failed, skipped,"
    " inserted, updated, unchanged, invalid, pages, error_count, status_reason, throttled_until, parent_run_id,"
    " cancel_requested, request, created_at, started_at, finished_at, retry_attempt, retry_horizon_at,"
    " retry_due_at, retry_given_up_at"
)
# Lists leave the request body out (a push's may name 10,000 topic ids); their runs carry `{}`.
LISTED_COLUMNS = RUN_COLUMNS.replace(" request,", " '{}'::jsonb AS request,")


@dataclass(frozen=True, slots=True)
class Run:
    id: uuid.UUID
    org_id: uuid.UUID
    connection_id: uuid.UUID
    kind: str
    status: str
    mode: str
    dry_run: bool
    total: int
    processed: int
    succeeded: int
    failed: int
    skipped: int
    inserted: int
    updated: int
    unchanged: int
    invalid: int
    pages: int
    error_count: int
    status_reason: str | None
    throttled_until: datetime | None
    parent_run_id: uuid.UUID | None
    cancel_requested: bool
    request: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    retry_attempt: int = 0  # the run's place in a chain of retries (0: not a retry)
    retry_horizon_at: datetime | None = None  # automatic retries of the chain stop here
    retry_due_at: datetime | None = None  # when its retryable failures are retried automatically
    retry_given_up_at: datetime | None = None  # the horizon passed with failures left

    @property
    def is_terminal(self) -> bool:
        """Whether the run has reached a final status."""
        return self.status in TERMINAL_STATUSES


class RunError(BaseModel):
    """One error record of a run (the API's RunErrorOut adds only its wire casing)."""

    model_config = ConfigDict(frozen=True)

    item_id: str | None
    code: str
    message: str
    attempt: int
    at: datetime


async def insert_run(
    connection: DbConnection,
    *,
    org_id: uuid.UUID,
    connection_id: uuid.UUID,
    kind: str,
    mode: str,
    dry_run: bool,
    total: int,
    request: dict[str, Any],
    parent_run_id: uuid.UUID | None = None,
    idempotency_key: str | None = None,
    retry_attempt: int = 0,
    retry_horizon_at: datetime | None = None,
) -> Run:
    """Insert a queued run inside the caller's transaction."""
    row = await connection.fetchrow(
        f"""INSERT INTO runs (org_id, connection_id, kind, mode, dry_run, total, request, parent_run_id,
                              idempotency_key, retry_attempt, retry_horizon_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING {RUN_COLUMNS}""",
        org_id,
        connection_id,
        kind,
        mode,
        dry_run,
        total,
        request,
        parent_run_id,
        idempotency_key,
        retry_attempt,
        retry_horizon_at,
    )
    assert row is not None
    return Run(**dict(row))


async def get_run(db: Db, org_id: uuid.UUID, run_id: uuid.UUID) -> Run | None:
    """One of the org's runs, or None."""
    row = await db.fetchrow(f"SELECT {RUN_COLUMNS} FROM runs WHERE org_id = $1 AND id = $2", org_id, run_id)
    return Run(**dict(row)) if row else None


async def run_for_idempotency_key(connection: DbConnection, org_id: uuid.UUID, key: str) -> Run | None:
    """The run an earlier request with this idempotency key created, serialising requests with the same key.

    Takes a transaction-scoped lock on (org, key): a concurrent request with the key waits for this
    transaction, then finds its run.
    """
    await connection.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"run-request:{org_id}:{key}"
    )
    row = await connection.fetchrow(
        f"SELECT {RUN_COLUMNS} FROM runs WHERE org_id = $1 AND idempotency_key = $2", org_id, key
    )
    return Run(**dict(row)) if row else None


async def get_run_by_id(db: Db, run_id: uuid.UUID) -> Run | None:
    """A run by id regardless of org (workers, which got the id from a trusted command)."""
    row = await db.fetchrow(f"SELECT {RUN_COLUMNS} FROM runs WHERE id = $1", run_id)
    return Run(**dict(row)) if row else None


async def run_errors(db: asyncpg.Pool[Any], run_id: uuid.UUID, limit: int) -> list[RunError]:
    """The stored error records of a run, oldest first."""
    rows = await db.fetch(
        "SELECT item_id, code, message, attempt, at FROM run_errors WHERE run_id = $1 ORDER BY id LIMIT $2",
        run_id,
        limit,
    )
    return [RunError(**dict(row)) for row in rows]


class NumberedRunError(RunError):
    """An error record with its position in the run's error log (for streams that resume after it)."""

    id: int


async def run_errors_after(db: Db, run_id: uuid.UUID, after_id: int, limit: int) -> list[NumberedRunError]:
    """The run's stored error records after `after_id`, oldest first."""
    rows = await db.fetch(
        """SELECT id, item_id, code, message, attempt, at FROM run_errors
           WHERE run_id = $1 AND id > $2 ORDER BY id LIMIT $3""",
        run_id,
        after_id,
        limit,
    )
    return [NumberedRunError(**dict(row)) for row in rows]


async def item_outcomes(db: Db, run_id: uuid.UUID) -> dict[str, int]:
    """How many of the run's items ended with each outcome."""
    rows = await db.fetch(
        "SELECT outcome, count(*) AS n FROM run_items WHERE run_id = $1 GROUP BY outcome", run_id
    )
    return {row["outcome"]: row["n"] for row in rows}


async def request_cancel(db: asyncpg.Pool[Any], org_id: uuid.UUID, run_id: uuid.UUID) -> Run | None:
    """Ask the worker to stop at the next batch boundary; a queued run is cancelled at once."""
    row = await db.fetchrow(
        f"""UPDATE runs SET cancel_requested = true,
                status = CASE WHEN status = 'queued' THEN 'cancelled' ELSE status END,
                finished_at = CASE WHEN status = 'queued' THEN now() ELSE finished_at END,
                updated_at = now()
            WHERE org_id = $1 AND id = $2 RETURNING {RUN_COLUMNS}""",
        org_id,
        run_id,
    )
    return Run(**dict(row)) if row else None


async def is_cancel_requested(db: asyncpg.Pool[Any], run_id: uuid.UUID) -> bool:
    """Whether someone asked the run to stop."""
    return bool(await db.fetchval("SELECT cancel_requested FROM runs WHERE id = $1", run_id))


async def cancel_or_pause(db: asyncpg.Pool[Any], run_id: uuid.UUID) -> tuple[bool, float]:
    """Whether someone asked the run to stop, and how many seconds the platform still asked it to wait
    (a Retry-After heard by any lane of it, see set_throttled_until)."""
    row = await db.fetchrow(
        """SELECT cancel_requested,
                  greatest(coalesce(extract(epoch FROM throttled_until - now()), 0), 0)::float8 AS paused_s
           FROM runs WHERE id = $1""",
        run_id,
    )
    return (False, 0.0) if row is None else (bool(row["cancel_requested"]), float(row["paused_s"]))


async def claim_next_step(connection: DbConnection, run_id: uuid.UUID) -> int:
    """Reserve the next batch index of a step run (inside the caller's transaction)."""
    index: int = await connection.fetchval(
        """UPDATE runs SET checkpoint = jsonb_build_object('next_batch', COALESCE((checkpoint->>'next_batch')::int, 0) + 1),
               updated_at = now()
           WHERE id = $1 RETURNING (checkpoint->>'next_batch')::int - 1""",
        run_id,
    )
    return index


async def set_throttled_until(db: Db, run_id: uuid.UUID, seconds: float) -> None:
    """Show on the run that the platform asked to wait (cleared when the run finishes)."""
    await db.execute(
        """UPDATE runs SET throttled_until = GREATEST(COALESCE(throttled_until, now()), now() + make_interval(secs => $2)),
               updated_at = now()
           WHERE id = $1 AND status IN ('queued', 'running')""",
        run_id,
        seconds,
    )


async def heartbeat(db: Db, run_id: uuid.UUID) -> None:
    """The worker driving the run is alive."""
    await db.execute("UPDATE runs SET heartbeat_at = now() WHERE id = $1", run_id)


async def fail_run(db: Db, run_id: uuid.UUID, reason: str) -> None:
    """Close a run that cannot go on, with the reason (no-op on a finished run)."""
    await db.execute(
        """UPDATE runs SET status = 'failed', status_reason = $2, finished_at = now(), throttled_until = NULL,
               updated_at = now()
           WHERE id = $1 AND status IN ('queued', 'running')""",
        run_id,
        reason,
    )
