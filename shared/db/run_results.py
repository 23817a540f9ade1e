"""What the status recorder writes: a run's start, its items' first terminal results with exact counters
and kept errors, and its close with the status the counts give."""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from shared.db.pool import DbConnection
from shared.messages import ItemOutcome, ItemResult, RunFinished, RunStarted
from shared.runs.status import TERMINAL_STATUS_VALUES, RunStatus

_SUCCEEDED = frozenset({ItemOutcome.CREATED, ItemOutcome.UPDATED, ItemOutcome.DEACTIVATED})


async def start_run(connection: DbConnection, event: RunStarted) -> None:
    """The run's worker began it with this total (a late or repeated start is a no-op)."""
    # A late or repeated start never moves a finished run back to running.
    await connection.execute(
        """UPDATE runs SET status = 'running', total = $2, started_at = COALESCE(started_at, $3), updated_at = now()
           WHERE id = $1 AND status IN ('queued', 'running')""",
        event.run_id,
        event.total,
        event.at,
    )


async def record_items(connection: DbConnection, items: Sequence[ItemResult], max_errors_stored: int) -> None:
    """Keep each item's first terminal result (a redelivered one is ignored) and count the new ones on their
    runs, storing failures as run errors up to `max_errors_stored` per run."""
    inserted = await connection.fetch(
        """INSERT INTO run_items (run_id, item_id, outcome, platform_segment_id, error_code, error_message, attempt,
                                  event_id, at, planned_action, segment_name)
           SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[],
                                $8::uuid[], $9::timestamptz[], $10::text[], $11::text[])
           ON CONFLICT (run_id, item_id) DO NOTHING
           RETURNING run_id, item_id, outcome, error_code, error_message, attempt, at""",
        [item.run_id for item in items],
        [item.item_id for item in items],
        [item.outcome.value for item in items],
        [item.platform_segment_id for item in items],
        [item.error_code for item in items],
        [item.error_message for item in items],
        [item.attempt for item in items],
        [item.event_id for item in items],
        [item.at for item in items],
        [item.planned_action for item in items],
        [item.segment_name for item in items],
    )
    by_run: dict[uuid.UUID, list[asyncpg.Record]] = defaultdict(list)
    for row in inserted:
        by_run[row["run_id"]].append(row)
    for run_id in sorted(by_run):
        await _count_items(connection, run_id, by_run[run_id], max_errors_stored)


async def _count_items(
    connection: DbConnection, run_id: uuid.UUID, rows: list[asyncpg.Record], max_errors_stored: int
) -> None:
    outcomes = Counter(ItemOutcome(row["outcome"]) for row in rows)
    failures = [row for row in rows if row["outcome"] == ItemOutcome.FAILED]
    stored = await connection.fetchval("SELECT errors_stored FROM runs WHERE id = $1 FOR UPDATE", run_id)
    if stored is None:
        return  # the run was deleted with its connection
    room = max(0, max_errors_stored - stored)
    keep = failures[:room]
    if keep:
        await connection.executemany(
            "INSERT INTO run_errors (run_id, item_id, code, message, attempt, at) VALUES ($1, $2, $3, $4, $5, $6)",
            [
                (
                    run_id,
                    row["item_id"],
                    row["error_code"] or "unknown",
                    row["error_message"] or "",
                    row["attempt"],
                    row["at"],
                )
                for row in keep
            ],
        )
    await connection.execute(
        """UPDATE runs SET processed = processed + $2, succeeded = succeeded + $3, failed = failed + $4,
               skipped = skipped + $5, error_count = error_count + $4, errors_stored = errors_stored + $6,
               updated_at = now()
           WHERE id = $1""",
        run_id,
        len(rows),
        sum(outcomes[outcome] for outcome in _SUCCEEDED),
        outcomes[ItemOutcome.FAILED],
        outcomes[ItemOutcome.SKIPPED],
        len(keep),
    )


@dataclass(frozen=True, slots=True)
class ClosedRun:
    kind: str
    status: RunStatus
    duration_s: float | None  # None for a run that never started


async def finish_run(connection: DbConnection, event: RunFinished) -> ClosedRun | None:
    """Close the run with the status its counts (or a cancel or failure) give; None if it was closed."""
    closed = await connection.fetchrow(
        """UPDATE runs SET
               status = CASE
                   WHEN $2 THEN 'cancelled'
                   WHEN $3::text IS NOT NULL THEN 'failed'
                   WHEN failed > 0 AND succeeded + skipped = 0 THEN 'failed'
                   WHEN failed > 0 THEN 'partial'
                   ELSE 'succeeded' END,
               status_reason = COALESCE($3, status_reason),
               finished_at = $4, throttled_until = NULL, updated_at = now()
           WHERE id = $1 AND status <> ALL($5::text[])
           RETURNING kind, status, started_at, finished_at""",
        event.run_id,
        event.cancelled,
        event.failed_reason,
        event.at,
        TERMINAL_STATUS_VALUES,
    )
    if closed is None:
        return None
    started = closed["started_at"]
    duration = None if started is None else max(0.0, (closed["finished_at"] - started).total_seconds())
    return ClosedRun(closed["kind"], RunStatus(closed["status"]), duration)
