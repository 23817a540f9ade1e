"""Leases on runs: which worker executes a run's next slice, for how long, and where the slice resumes.

Rules every claim keeps (checked under a per-connection advisory lock, so two claimers cannot race):
- at most one run of a connection and kind is leased at a time: no two runs write one platform
  connection at once (its rate budget and Retry-After pause are held by one process);
- auto runs of a connection start in the order they were created: a later run never overtakes;
- among the runs that may go, the least recently served goes first: a huge run gets one slice, then
  waits its turn behind every other connection's run.
A big auto push run is split into lanes (shared/runs/lanes.py): lane 0 is the run's own row, lanes 1..
rows of run_lanes, each leased on its own, so several replicas push one run at once; the rules above
hold per run, not per lane (the lanes of one run share its connection's budget).
A lease names its holder with a token of its own; every write of the holder checks it (fencing), so a
holder whose lease expired and was taken over cannot move the run's cursor any more.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from shared.db.pool import Db, DbConnection, PgPool
from shared.runs.status import TERMINAL_STATUS_VALUES

OPEN = "status <> ALL($1::text[]) AND work_done_at IS NULL"
_OTHER_OPEN = "o.status <> ALL($1::text[]) AND o.work_done_at IS NULL"
LEASED_COLUMNS = "id, org_id, connection_id, created_at, work_cursor, trace_context, lanes"  # _take reads
CANDIDATES = 16  # how many open runs (or lanes) one claim looks at before giving up for this pass


@dataclass(frozen=True, slots=True)
class Lease:
    """A held lease: the run and the token its holder writes with."""

    run_id: uuid.UUID
    org_id: uuid.UUID
    connection_id: uuid.UUID
    token: uuid.UUID
    cursor: dict[str, Any] | None
    trace_context: dict[str, str] | None = None  # W3C headers of the command's trace
    lane: int = 0  # 0: the run's own row; 1..: a row of run_lanes
    lanes: int = 1  # how many lanes the run is split into (1 until its first slice decides)

    @property
    def key(self) -> tuple[uuid.UUID, int]:
        """What one holder holds: a run's lane."""
        return self.run_id, self.lane


def _row(lease: Lease, *, held: bool = True) -> tuple[str, str]:
    """The table holding the lease, and the condition naming its row ($1 the run; `held`: and $2 the
    token, so a holder whose lease was taken over writes nothing)."""
    if lease.lane == 0:
        table, where = "runs", "id = $1"
    else:
        table, where = "run_lanes", f"run_id = $1 AND lane = {int(lease.lane)}"
    return table, f"{where} AND lease_owner = $2" if held else where


# Lane 0 of the run is done and waits for its other lanes: nothing to claim there yet.
_WAITS_FOR_LANES = """lanes_waiting AND EXISTS (
    SELECT 1 FROM run_lanes l WHERE l.run_id = runs.id AND l.work_done_at IS NULL)"""

# Another run of the connection and kind ($2, $3; not $4) holds a lease on one of its lanes.
_OTHER_RUN_LEASED = f"""EXISTS (
    SELECT 1 FROM runs o WHERE o.connection_id = $2 AND o.kind = $3 AND o.id <> $4 AND {_OTHER_OPEN}
      AND (o.lease_expires_at > now() OR EXISTS (
          SELECT 1 FROM run_lanes ol WHERE ol.run_id = o.id AND ol.work_done_at IS NULL
            AND ol.lease_expires_at > now())))"""


async def accept(db: Db, run_id: uuid.UUID, trace_context: dict[str, str] | None = None) -> bool:
    """Open a run for execution once its command arrived, keeping the command's trace for its slices;
    False for a finished or unknown run."""
    result: str = await db.execute(
        f"""UPDATE runs SET accepted_at = COALESCE(accepted_at, now()),
                   trace_context = COALESCE(trace_context, $3)
            WHERE id = $2 AND {OPEN}""",
        TERMINAL_STATUS_VALUES,
        run_id,
        trace_context or None,
    )
    return result.endswith(" 1")


def _lock_key(connection_id: uuid.UUID, kind: str) -> int:
    # pg advisory locks take a signed 64-bit key: 8 bytes of a uuid of (connection, kind) serve.
    return int.from_bytes(uuid.uuid5(connection_id, kind).bytes[:8], "big", signed=True)


async def take(
    db: DbConnection,
    row: asyncpg.Record,
    ttl_s: float,
    kind: str,
    *,
    step: bool,
    holder: str | None,
    lane: int = 0,
) -> Lease | None:
    """Lease lane `lane` of the run `row` if no other run of its connection holds a lease (and, for auto
    runs, no older open run waits)."""
    if not await db.fetchval("SELECT pg_try_advisory_xact_lock($1)", _lock_key(row["connection_id"], kind)):
        return None
    blocked = await db.fetchval(
        f"""SELECT {_OTHER_RUN_LEASED} OR EXISTS (
               SELECT 1 FROM runs o
               WHERE o.connection_id = $2 AND o.kind = $3 AND o.id <> $4 AND {_OTHER_OPEN}
                 AND $5 AND o.mode = 'auto' AND o.accepted_at IS NOT NULL AND (o.created_at, o.id) < ($6, $4))""",
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
    lease = Lease(
        row["id"],
        row["org_id"],
        row["connection_id"],
        token,
        row["work_cursor"],
        row["trace_context"],
        lane=lane,
        lanes=row["lanes"] or 1,
    )
    await db.execute(
        _update(
            lease,
            "lease_owner = $2, lease_expires_at = now() + make_interval(secs => $3), lease_holder = $4",
            held=False,
        ),
        row["id"],
        token,
        ttl_s,
        holder,
    )
    return lease


async def claim_next(
    pool: PgPool, kind: str, ttl_s: float, *, holding: set[uuid.UUID], holder: str | None = None
) -> Lease | None:
    """Lease the open auto run of `kind` that waited longest for a slice, or None when none may go."""
    async with pool.acquire() as connection, connection.transaction():
        rows = await connection.fetch(
            f"""SELECT {LEASED_COLUMNS} FROM runs
                WHERE kind = $2 AND mode = 'auto' AND accepted_at IS NOT NULL AND {OPEN}
                  AND (lease_expires_at IS NULL OR lease_expires_at < now()) AND NOT (id = ANY($3::uuid[]))
                  AND NOT ({_WAITS_FOR_LANES})
                ORDER BY last_served_at NULLS FIRST, created_at
                LIMIT {CANDIDATES} FOR UPDATE SKIP LOCKED""",
            TERMINAL_STATUS_VALUES,
            kind,
            list(holding),
        )
        for row in rows:
            lease = await take(connection, row, ttl_s, kind, step=False, holder=holder)
            if lease is not None:
                return lease
    return None


async def others_waiting(db: Db, lease: Lease, kind: str) -> bool:
    """Whether another connection's open run of `kind` waits for a slice, or a lane of one does (else a
    slice may go on)."""
    waiting: bool = await db.fetchval(
        f"""SELECT EXISTS (
               SELECT 1 FROM runs WHERE kind = $2 AND mode = 'auto' AND accepted_at IS NOT NULL AND {OPEN}
                 AND connection_id <> $3 AND (
                     ((lease_expires_at IS NULL OR lease_expires_at < now()) AND NOT ({_WAITS_FOR_LANES}))
                     OR EXISTS (SELECT 1 FROM run_lanes l WHERE l.run_id = runs.id AND l.work_done_at IS NULL
                                AND (l.lease_expires_at IS NULL OR l.lease_expires_at < now()))))""",
        TERMINAL_STATUS_VALUES,
        kind,
        lease.connection_id,
    )
    return waiting


def _update(lease: Lease, update: str, *, held: bool = True, only_open: bool = False) -> str:
    """`update` of the lease's own row. Lane 0's row is the run's, so it moves the run's heartbeat too;
    lanes 1.. touch only their row in run_lanes (a statement on both tables would lock them in an order
    Postgres does not promise, and deadlock with a close of the run's work)."""
    table, where = _row(lease, held=held)
    if only_open:
        where = f"work_done_at IS NULL AND {where}"
    heartbeat = ", heartbeat_at = now()" if lease.lane == 0 else ""
    return f"UPDATE {table} SET {update}{heartbeat} WHERE {where}"


async def renew(db: Db, lease: Lease, ttl_s: float) -> bool:
    """Extend the lease (lane 0: and the run's heartbeat); False when it was lost to another holder."""
    result: str = await db.execute(
        _update(lease, "lease_expires_at = now() + make_interval(secs => $3)"),
        lease.run_id,
        lease.token,
        ttl_s,
    )
    return result.endswith(" 1")


async def save_cursor(db: Db, lease: Lease, cursor: dict[str, Any]) -> bool:
    """Move the lane's resume point past work that is durable; False when the lease was lost (or the
    run's work was closed meanwhile, e.g. given up through another lane)."""
    result: str = await db.execute(
        _update(lease, "work_cursor = $3", only_open=True),
        lease.run_id,
        lease.token,
        cursor,
    )
    return result.endswith(" 1")


async def finish_work(db: PgPool, lease: Lease, *, failed_reason: str | None = None) -> None:
    """Lane 0: the run's last slice published its end, nobody claims any lane of it again (the recorder
    closes it). Another lane: its range is done; `failed_reason` is kept for lane 0's close."""
    if lease.lane:
        await db.execute(
            _update(
                lease,
                "work_done_at = now(), failed_reason = $3, lease_owner = NULL, lease_expires_at = NULL, "
                "lease_holder = NULL",
            ),
            lease.run_id,
            lease.token,
            failed_reason,
        )
        return
    async with db.acquire() as connection, connection.transaction():
        done = await connection.execute(
            """UPDATE runs SET work_done_at = now(), lease_owner = NULL, lease_expires_at = NULL,
                   lease_holder = NULL
               WHERE id = $1 AND lease_owner = $2""",
            lease.run_id,
            lease.token,
        )
        if done.endswith(" 1"):
            await close_lanes(connection, lease.run_id)


async def close_lanes(db: Db, run_id: uuid.UUID) -> None:
    """Close lanes 1.. of a run whose row the caller has just updated (the lock order of every statement
    that touches both: the run's row first, then its lanes)."""
    await db.execute(
        "UPDATE run_lanes SET work_done_at = COALESCE(work_done_at, now()) WHERE run_id = $1", run_id
    )


async def record_failure(db: Db, lease: Lease) -> int:
    """Count a slice that raised; the lane's failures in a row (0 when the lease was lost meanwhile)."""
    table, where = _row(lease)
    failures: int | None = await db.fetchval(
        f"UPDATE {table} SET slice_failures = slice_failures + 1 WHERE {where} RETURNING slice_failures",
        lease.run_id,
        lease.token,
    )
    return failures or 0


async def release(db: Db, lease: Lease, *, wait_for_lanes: str | None = None) -> None:
    """Give the lane back at a slice boundary; it is claimable at once and goes to the back of the line.
    `wait_for_lanes` (lane 0, its range done: why its work failed, or ""): not claimable again until the
    run's other lanes are done."""
    table, where = _row(lease)
    waiting = ""
    if wait_for_lanes is not None and lease.lane == 0:
        waiting = ", lanes_waiting = true, work_failed_reason = NULLIF($3, '')"
    await db.execute(
        f"""UPDATE {table} SET lease_owner = NULL, lease_expires_at = NULL,
               last_served_at = clock_timestamp(), slice_failures = 0, lease_holder = NULL{waiting}
           WHERE {where}""",
        lease.run_id,
        lease.token,
        *((wait_for_lanes,) if waiting else ()),
    )


async def release_held_by(db: Db, holder: str) -> int:
    """At an instance's start: give back the leases its previous incarnation (same WORKER_INSTANCE_ID, now
    gone) still holds, so its runs go on at once rather than after their TTL; how many were given back.

    Only safe before this instance claims anything, and with an id no other live process uses."""
    given_back = 0
    for table in ("runs", "run_lanes"):
        result: str = await db.execute(
            f"""UPDATE {table} SET lease_owner = NULL, lease_expires_at = NULL, lease_holder = NULL
                WHERE lease_holder = $1 AND lease_expires_at IS NOT NULL""",
            holder,
        )
        given_back += int(result.rsplit(" ", 1)[-1])
    return given_back
