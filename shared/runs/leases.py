"""Leases on runs: which worker executes a run's next slice, for how long, and where the slice resumes.

Rules every claim keeps (checked under a per-connection advisory lock, so two claimers cannot race):
- at most one run of a connection and kind is leased at a time: no two runs write one platform
  connection at once (its rate budget and Retry-After pause are held by one process);
- auto runs of a connection start in the order they were created: a later run never overtakes;
- among the runs that may go, the least recently served goes first: a huge run gets one slice, then
  waits its turn behind every other connection's run.
A lease names its holder with a token of its own; every write of the holder checks it (fencing), so a
holder whose lease expired and was taken over cannot move the run's cursor any more.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from shared.db.pool import Db, DbConnection, PgPool
from shared.runs.status import TERMINAL_STATUS_VALUES

_OPEN = "status <> ALL($1::text[]) AND work_done_at IS NULL"
_OTHER_OPEN = "o.status <> ALL($1::text[]) AND o.work_done_at IS NULL"
_LEASED_COLUMNS = "id, org_id, connection_id, created_at, work_cursor, trace_context"  # what _take reads
_CANDIDATES = 16  # how many open runs one claim looks at before giving up for this pass


@dataclass(frozen=True, slots=True)
class Lease:
    """A held lease: the run and the token its holder writes with."""

    run_id: uuid.UUID
    org_id: uuid.UUID
    connection_id: uuid.UUID
    token: uuid.UUID
    cursor: dict[str, Any] | None
    trace_context: dict[str, str] | None = None  # W3C headers of the command's trace


async def accept(db: Db, run_id: uuid.UUID, trace_context: dict[str, str] | None = None) -> bool:
    """Open a run for execution once its command arrived, keeping the command's trace for its slices;
    False for a finished or unknown run."""
    result: str = await db.execute(
        f"""UPDATE runs SET accepted_at = COALESCE(accepted_at, now()),
                   trace_context = COALESCE(trace_context, $3)
            WHERE id = $2 AND {_OPEN}""",
        TERMINAL_STATUS_VALUES,
        run_id,
        trace_context or None,
    )
    return result.endswith(" 1")


def _lock_key(connection_id: uuid.UUID, kind: str) -> int:
    # pg advisory locks take a signed 64-bit key: 8 bytes of a uuid of (connection, kind) serve.
    return int.from_bytes(uuid.uuid5(connection_id, kind).bytes[:8], "big", signed=True)


async def _take(
    db: DbConnection, row: asyncpg.Record, ttl_s: float, kind: str, *, step: bool, holder: str | None
) -> Lease | None:
    """Lease `row` if its connection has no other lease (and, for auto runs, no older open run)."""
    if not await db.fetchval("SELECT pg_try_advisory_xact_lock($1)", _lock_key(row["connection_id"], kind)):
        return None
    blocked = await db.fetchval(
        f"""SELECT EXISTS (
               SELECT 1 FROM runs o
               WHERE o.connection_id = $2 AND o.kind = $3 AND o.id <> $4 AND {_OTHER_OPEN}
                 AND (o.lease_expires_at > now()
                      OR ($5 AND o.mode = 'auto' AND o.accepted_at IS NOT NULL
                          AND (o.created_at, o.id) < ($6, $4))))""",
        TERMINAL_STATUS_VALUES,
        row["connection_id"],
        kind,
        row["id"],
        not step,
        row["created_at"],
    )
    if blocked:
        return None
    token = uuid.uuid4()
    await db.execute(
        """UPDATE runs SET lease_owner = $2, lease_expires_at = now() + make_interval(secs => $3),
               heartbeat_at = now(), lease_holder = $4
           WHERE id = $1""",
        row["id"],
        token,
        ttl_s,
        holder,
    )
    return Lease(
        row["id"], row["org_id"], row["connection_id"], token, row["work_cursor"], row["trace_context"]
    )


async def claim_next(
    pool: PgPool, kind: str, ttl_s: float, *, holding: set[uuid.UUID], holder: str | None = None
) -> Lease | None:
    """Lease the open auto run of `kind` that waited longest for a slice, or None when none may go."""
    async with pool.acquire() as connection, connection.transaction():
        rows = await connection.fetch(
            f"""SELECT {_LEASED_COLUMNS} FROM runs
                WHERE kind = $2 AND mode = 'auto' AND accepted_at IS NOT NULL AND {_OPEN}
                  AND (lease_expires_at IS NULL OR lease_expires_at < now()) AND NOT (id = ANY($3::uuid[]))
                ORDER BY last_served_at NULLS FIRST, created_at
                LIMIT {_CANDIDATES} FOR UPDATE SKIP LOCKED""",
            TERMINAL_STATUS_VALUES,
            kind,
            list(holding),
        )
        for row in rows:
            lease = await _take(connection, row, ttl_s, kind, step=False, holder=holder)
            if lease is not None:
                return lease
    return None


async def claim_run(
    pool: PgPool, run_id: uuid.UUID, kind: str, ttl_s: float, *, holder: str | None = None
) -> Lease | None:
    """Lease one given run (a step run's batch or page) once no other run of its connection holds one."""
    async with pool.acquire() as connection, connection.transaction():
        row = await connection.fetchrow(
            f"""SELECT {_LEASED_COLUMNS} FROM runs
                WHERE id = $2 AND {_OPEN} AND (lease_expires_at IS NULL OR lease_expires_at < now())
                FOR UPDATE SKIP LOCKED""",
            TERMINAL_STATUS_VALUES,
            run_id,
        )
        return None if row is None else await _take(connection, row, ttl_s, kind, step=True, holder=holder)


async def others_waiting(db: Db, lease: Lease, kind: str) -> bool:
    """Whether another connection's open run of `kind` waits for a slice (else a slice may go on)."""
    waiting: bool = await db.fetchval(
        f"""SELECT EXISTS (
               SELECT 1 FROM runs WHERE kind = $2 AND mode = 'auto' AND accepted_at IS NOT NULL AND {_OPEN}
                 AND connection_id <> $3 AND (lease_expires_at IS NULL OR lease_expires_at < now()))""",
        TERMINAL_STATUS_VALUES,
        kind,
        lease.connection_id,
    )
    return waiting


class LeaseUnavailable(Exception):
    """A run's lease stayed taken (another run of its connection held one) for longer than waited."""


_TAKEN_POLL_S = 0.05


async def wait_for_run(
    pool: PgPool, run_id: uuid.UUID, kind: str, *, ttl_s: float, wait_s: float, holder: str | None = None
) -> Lease | None:
    """Lease one given run (a step run's batch or page) as soon as it may go; None once it is finished or
    gone; LeaseUnavailable (a retryable failure of the command) after `wait_s`."""
    deadline = time.monotonic() + wait_s
    while (lease := await claim_run(pool, run_id, kind, ttl_s, holder=holder)) is None:
        still_open = await pool.fetchval(
            f"SELECT {_OPEN} FROM runs WHERE id = $2", TERMINAL_STATUS_VALUES, run_id
        )
        if not still_open:
            return None
        if time.monotonic() > deadline:
            raise LeaseUnavailable(f"run {run_id}: its connection's lease stayed taken for {wait_s:g}s")
        await asyncio.sleep(_TAKEN_POLL_S)
    return lease


async def renew(db: Db, lease: Lease, ttl_s: float) -> bool:
    """Extend the lease (and the run's heartbeat); False when it was lost to another holder."""
    result: str = await db.execute(
        """UPDATE runs SET lease_expires_at = now() + make_interval(secs => $3), heartbeat_at = now()
           WHERE id = $1 AND lease_owner = $2""",
        lease.run_id,
        lease.token,
        ttl_s,
    )
    return result.endswith(" 1")


async def save_cursor(db: Db, lease: Lease, cursor: dict[str, Any]) -> bool:
    """Move the run's resume point past work that is durable; False when the lease was lost."""
    result: str = await db.execute(
        "UPDATE runs SET work_cursor = $3, heartbeat_at = now() WHERE id = $1 AND lease_owner = $2",
        lease.run_id,
        lease.token,
        cursor,
    )
    return result.endswith(" 1")


async def finish_work(db: Db, lease: Lease) -> None:
    """The run's last slice published its end: nobody claims it again (the recorder closes it)."""
    await db.execute(
        """UPDATE runs SET work_done_at = now(), lease_owner = NULL, lease_expires_at = NULL,
               lease_holder = NULL
           WHERE id = $1 AND lease_owner = $2""",
        lease.run_id,
        lease.token,
    )


async def record_failure(db: Db, lease: Lease) -> int:
    """Count a slice that raised; the run's failures in a row (0 when the lease was lost meanwhile)."""
    failures: int | None = await db.fetchval(
        "UPDATE runs SET slice_failures = slice_failures + 1 WHERE id = $1 AND lease_owner = $2 RETURNING slice_failures",
        lease.run_id,
        lease.token,
    )
    return failures or 0


async def release(db: Db, lease: Lease) -> None:
    """Give the run back at a slice boundary; it is claimable at once and goes to the back of the line."""
    await db.execute(
        """UPDATE runs SET lease_owner = NULL, lease_expires_at = NULL, last_served_at = clock_timestamp(),
               slice_failures = 0, lease_holder = NULL
           WHERE id = $1 AND lease_owner = $2""",
        lease.run_id,
        lease.token,
    )


async def release_held_by(db: Db, holder: str) -> int:
    """At an instance's start: give back the leases its previous incarnation (same WORKER_INSTANCE_ID, now
    gone) still holds, so its runs go on at once rather than after their TTL; how many were given back.

    Only safe before this instance claims anything, and with an id no other live process uses."""
    result: str = await db.execute(
        """UPDATE runs SET lease_owner = NULL, lease_expires_at = NULL, lease_holder = NULL
           WHERE lease_holder = $1 AND lease_expires_at IS NOT NULL""",
        holder,
    )
    return int(result.rsplit(" ", 1)[-1])
