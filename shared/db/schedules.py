"""Connection schedules: saving them per (connection, kind), and the scheduler's claim of the due ones."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from shared.db.pool import Db
from shared.runs.schedules import Cadence, ScheduleKind
from shared.runs.status import TERMINAL_STATUS_VALUES

_COLUMNS = """id, org_id, connection_id, kind, every_minutes, cron, time_zone, enabled, next_run_at,
              last_slot_at, last_run_id, last_error, created_at, updated_at"""


@dataclass(frozen=True, slots=True)
class Schedule:
    """A saved schedule and where it stands: the slot it starts next, what its last slot did."""

    id: uuid.UUID
    org_id: uuid.UUID
    connection_id: uuid.UUID
    kind: ScheduleKind
    every_minutes: int | None
    cron: str | None
    time_zone: str
    enabled: bool
    next_run_at: datetime
    last_slot_at: datetime | None
    last_run_id: uuid.UUID | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime

    @property
    def cadence(self) -> Cadence:
        """How often its slots come."""
        return Cadence(every_minutes=self.every_minutes, cron=self.cron, time_zone=self.time_zone)


async def list_schedules(db: Db, org_id: uuid.UUID, connection_id: uuid.UUID) -> list[Schedule]:
    """A connection's schedules (push before sync)."""
    rows = await db.fetch(
        f"SELECT {_COLUMNS} FROM connection_schedules WHERE org_id = $1 AND connection_id = $2 ORDER BY kind",
        org_id,
        connection_id,
    )
    return [Schedule(**dict(row)) for row in rows]


async def get_schedule(
    db: Db, org_id: uuid.UUID, connection_id: uuid.UUID, kind: ScheduleKind
) -> Schedule | None:
    """A connection's schedule of one kind, or None."""
    row = await db.fetchrow(
        f"""SELECT {_COLUMNS} FROM connection_schedules
            WHERE org_id = $1 AND connection_id = $2 AND kind = $3""",
        org_id,
        connection_id,
        kind,
    )
    return Schedule(**dict(row)) if row else None


async def put_schedule(
    db: Db,
    org_id: uuid.UUID,
    connection_id: uuid.UUID,
    kind: ScheduleKind,
    cadence: Cadence,
    *,
    enabled: bool,
    next_run_at: datetime,
) -> Schedule | None:
    """Create or replace a connection's schedule of `kind`; None when the org has no such connection.

    Replacing one starts its slots afresh from `next_run_at` and drops a scheduler's claim on it.
    """
    row = await db.fetchrow(
        f"""INSERT INTO connection_schedules
                (org_id, connection_id, kind, every_minutes, cron, time_zone, enabled, next_run_at)
            SELECT org_id, id, $3, $4, $5, $6, $7, $8 FROM platform_connections WHERE org_id = $1 AND id = $2
            ON CONFLICT (connection_id, kind) DO UPDATE SET
                every_minutes = EXCLUDED.every_minutes, cron = EXCLUDED.cron, time_zone = EXCLUDED.time_zone,
                enabled = EXCLUDED.enabled, next_run_at = EXCLUDED.next_run_at, claimed_until = NULL,
                last_error = NULL, updated_at = now()
            RETURNING {_COLUMNS}""",
        org_id,
        connection_id,
        kind,
        cadence.every_minutes,
        cadence.cron,
        cadence.time_zone,
        enabled,
        next_run_at,
    )
    return Schedule(**dict(row)) if row else None


async def delete_schedule(db: Db, org_id: uuid.UUID, connection_id: uuid.UUID, kind: ScheduleKind) -> bool:
    """Delete a connection's schedule of `kind`; whether there was one."""
    result: str = await db.execute(
        "DELETE FROM connection_schedules WHERE org_id = $1 AND connection_id = $2 AND kind = $3",
        org_id,
        connection_id,
        kind,
    )
    return result != "DELETE 0"


async def claim_due(db: Db, *, now: datetime, claim_until: datetime, limit: int) -> list[Schedule]:
    """Claim up to `limit` enabled schedules whose slot has come, oldest slot first, until `claim_until`.

    SKIP LOCKED keeps concurrent replicas on disjoint schedules; the claim keeps a schedule another
    replica is starting out of the next rounds, and lapses if that replica dies before it advances it.
    """
    rows = await db.fetch(
        f"""UPDATE connection_schedules SET claimed_until = $2
            WHERE id IN (SELECT id FROM connection_schedules
                         WHERE enabled AND next_run_at <= $1 AND (claimed_until IS NULL OR claimed_until <= $1)
                         ORDER BY next_run_at LIMIT $3 FOR UPDATE SKIP LOCKED)
            RETURNING {_COLUMNS}""",
        now,
        claim_until,
        limit,
    )
    return sorted((Schedule(**dict(row)) for row in rows), key=lambda schedule: schedule.next_run_at)


async def advance(
    db: Db,
    schedule_id: uuid.UUID,
    *,
    slot: datetime,
    next_run_at: datetime,
    run_id: uuid.UUID | None,
    error: str | None,
) -> bool:
    """Record what `slot` did and move the schedule to its next slot; False when the schedule was replaced
    or advanced meanwhile (then it is left as it is)."""
    result: str = await db.execute(
        """UPDATE connection_schedules
           SET next_run_at = $3, claimed_until = NULL, last_slot_at = $2,
               last_run_id = COALESCE($4, last_run_id), last_error = $5
           WHERE id = $1 AND next_run_at = $2""",
        schedule_id,
        slot,
        next_run_at,
        run_id,
        error,
    )
    return result == "UPDATE 1"


async def slot_run_id(db: Db, org_id: uuid.UUID, idempotency_key: str) -> uuid.UUID | None:
    """The run already started for a slot (by a replica that died before advancing the schedule), or None."""
    run_id: uuid.UUID | None = await db.fetchval(
        "SELECT id FROM runs WHERE org_id = $1 AND idempotency_key = $2", org_id, idempotency_key
    )
    return run_id


async def run_is_open(db: Db, run_id: uuid.UUID | None) -> bool:
    """Whether a run exists and has not finished."""
    if run_id is None:
        return False
    open_run: bool = await db.fetchval(
        "SELECT EXISTS (SELECT 1 FROM runs WHERE id = $1 AND status <> ALL($2::text[]))",
        run_id,
        TERMINAL_STATUS_VALUES,
    )
    return open_run
