"""Auto runs whose command no worker took: found for the run supervisor, which sends it again."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from shared.db.pool import DbConnection


@dataclass(frozen=True, slots=True)
class StalledRun:
    id: uuid.UUID
    org_id: uuid.UUID
    connection_id: uuid.UUID
    kind: str
    mode: str
    dry_run: bool
    request: dict[str, Any]
    redeliveries: int


async def claim_stalled_runs(
    connection: DbConnection, stale_after_s: float, limit: int = 100
) -> list[StalledRun]:
    """Auto runs whose command no worker took (never accepted) for `stale_after_s`, locked for this
    supervisor (others skip them). An accepted run is the executors' (shared/runs/leases.py): a dead
    holder's lease expires and another replica resumes it; waiting in line is not stalling."""
    rows = await connection.fetch(
        """SELECT id, org_id, connection_id, kind, mode, dry_run, request, redeliveries FROM runs
           WHERE status IN ('queued', 'running') AND mode = 'auto' AND accepted_at IS NULL
             AND GREATEST(heartbeat_at, updated_at, started_at, created_at) < now() - make_interval(secs => $1)
           ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED""",
        stale_after_s,
        limit,
    )
    return [StalledRun(**dict(row)) for row in rows]


async def mark_redelivered(connection: DbConnection, run_id: uuid.UUID) -> None:
    """Count a redelivery and restart the heartbeat clock."""
    await connection.execute(
        "UPDATE runs SET redeliveries = redeliveries + 1, heartbeat_at = now() WHERE id = $1", run_id
    )
