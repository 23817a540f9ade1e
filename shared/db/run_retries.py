"""A run's automatic retries: which items a retry takes over, when the next one is due, when they end."""

from __future__ import annotations

import uuid

from shared.connectors.errors import RETRYABLE_CLASSES
from shared.db.pool import Db, DbConnection
from shared.db.runs import RUN_COLUMNS, Run

# A run item's error code is `<error class>[:<status>]` (PlatformError.code).
RETRYABLE_ERROR_CLASSES = sorted(error_class.value for error_class in RETRYABLE_CLASSES)

_RETRYABLE_ITEM = "outcome = 'failed' AND split_part(error_code, ':', 1) = ANY($2::text[])"


async def failed_item_ids(db: Db, run_id: uuid.UUID, *, retryable_only: bool = False) -> list[str]:
    """The items of a run whose terminal result is `failed` (only those of a retryable class)."""
    classes = RETRYABLE_ERROR_CLASSES if retryable_only else None
    rows = await db.fetch(
        """SELECT item_id FROM run_items
           WHERE run_id = $1 AND outcome = 'failed'
             AND ($2::text[] IS NULL OR split_part(error_code, ':', 1) = ANY($2::text[]))
           ORDER BY item_id""",
        run_id,
        classes,
    )
    return [row["item_id"] for row in rows]


async def schedule_retry(
    connection: DbConnection, run_id: uuid.UUID, *, first_delay_s: float, horizon_s: float
) -> None:
    """At a push run's close: when it left retryable failures, due for an automatic retry after
    `first_delay_s` doubled per earlier retry of its chain, or given up once that passes the chain's
    horizon (`horizon_s` after its first run finished). A dry run, a cancel or `horizon_s` 0: nothing."""
    if horizon_s <= 0:
        return
    await connection.execute(
        f"""WITH closed AS (
                SELECT id, COALESCE(retry_horizon_at, finished_at + make_interval(secs => $4)) AS horizon,
                       finished_at + make_interval(secs => $3 * power(2, least(retry_attempt, 20))) AS due
                FROM runs
                WHERE id = $1 AND kind = 'push' AND NOT dry_run AND status IN ('partial', 'failed')
                  AND finished_at IS NOT NULL
                  AND EXISTS (SELECT 1 FROM run_items WHERE run_id = $1 AND {_RETRYABLE_ITEM}))
            UPDATE runs r SET retry_horizon_at = c.horizon,
                              retry_due_at = CASE WHEN c.due < c.horizon THEN c.due END,
                              retry_given_up_at = CASE WHEN c.due >= c.horizon THEN now() END
            FROM closed c WHERE r.id = c.id""",
        run_id,
        RETRYABLE_ERROR_CLASSES,
        first_delay_s,
        horizon_s,
    )


async def due_for_retry(connection: DbConnection, *, limit: int) -> list[Run]:
    """Runs whose automatic retry is due, locked for the caller's transaction (other replicas skip them)."""
    rows = await connection.fetch(
        f"""SELECT {RUN_COLUMNS} FROM runs WHERE retry_due_at <= now()
            ORDER BY retry_due_at LIMIT $1 FOR UPDATE SKIP LOCKED""",
        limit,
    )
    return [Run(**dict(row)) for row in rows]


async def end_retries(connection: DbConnection, run_id: uuid.UUID, *, given_up: bool) -> None:
    """No automatic retry of this run any more: a child took its failures over, or (`given_up`) none can."""
    await connection.execute(
        """UPDATE runs SET retry_due_at = NULL,
               retry_given_up_at = CASE WHEN $2 THEN now() ELSE retry_given_up_at END
           WHERE id = $1""",
        run_id,
        given_up,
    )
