"""Lanes: a big auto push run split into ranges of topic ids, each leased on its own (shared/runs/leases.py
keeps the rules), so that several replicas push one run at once.

- How many: decided once, at the run's first slice, from its total (PUSH_RUN_LANES at most, one per
  PUSH_LANE_MIN_ITEMS items); kept on runs.lanes. Step runs and small runs have one lane.
- Which ids: lane k of n covers the uuids from k*2^128/n to (k+1)*2^128/n - 1; topic ids are random
  (gen_random_uuid), so lanes are about even. A lane's topics and then its deletions go in id order.
- Who holds what: lane 0 is the run's own row; it publishes the run's start, then opens lanes 1.. as
  rows of run_lanes. A replica prefers lanes of runs it holds no lane of; it takes a second lane of
  one run only once that lane waited LANE_GRACE_POLLS polls, which spreads a run over idle replicas.
- How it ends: a lane whose range is done closes itself (with the reason its work failed, if it did);
  lane 0, its own range done, waits until the others are closed and then closes the run.
- The connection's budget is shared: each lane pushes at 1/n of its rate limit and concurrency.
"""

from __future__ import annotations

import uuid

from shared.db.pool import Db, PgPool
from shared.runs import leases
from shared.runs.leases import Lease
from shared.runs.status import TERMINAL_STATUS_VALUES

LANE_GRACE_POLLS = 4  # polls a lane waits for a replica holding none of its run before any may take it
_SPACE = 1 << 128


def lane_range(lane: int, lanes: int) -> tuple[uuid.UUID | None, uuid.UUID | None]:
    """The lane's ids as (after, upto): ids > after and <= upto; None where the range is open."""
    after = None if lane == 0 else uuid.UUID(int=lane * _SPACE // lanes - 1)
    upto = None if lane == lanes - 1 else uuid.UUID(int=(lane + 1) * _SPACE // lanes - 1)
    return after, upto


def lanes_for(total: int, *, most: int, min_items: int) -> int:
    """How many lanes a run of `total` items gets."""
    return max(1, min(most, total // max(min_items, 1)))


async def decide(db: Db, run_id: uuid.UUID, wanted: int) -> int:
    """Keep the run's lane count (the first decision stands: a slice that redoes the start gets it)."""
    lanes: int = await db.fetchval(
        "UPDATE runs SET lanes = COALESCE(lanes, $2) WHERE id = $1 RETURNING lanes", run_id, wanted
    )
    return lanes


async def open_lanes(db: Db, run_id: uuid.UUID, lanes: int) -> None:
    """Make lanes 1.. claimable (after the run's start was published); safe to repeat."""
    await db.execute(
        """INSERT INTO run_lanes (run_id, lane) SELECT $1, lane FROM generate_series(1, $2 - 1) AS lane
           ON CONFLICT DO NOTHING""",
        run_id,
        lanes,
    )


async def claim_lane(
    pool: PgPool,
    kind: str,
    ttl_s: float,
    *,
    holding: set[tuple[uuid.UUID, int]],
    grace_s: float,
    holder: str | None = None,
) -> Lease | None:
    """Lease a waiting lane 1.. of an open run: first of runs this process holds no lane of, then (after
    `grace_s` of waiting) of any; the least recently served first."""
    held_runs = list({run_id for run_id, _ in holding})
    held_keys = [f"{run_id}:{lane}" for run_id, lane in holding]
    async with pool.acquire() as connection, connection.transaction():
        rows = await connection.fetch(
            f"""SELECT r.id, r.org_id, r.connection_id, r.created_at, r.trace_context, r.lanes,
                       l.lane, l.work_cursor
                FROM run_lanes l JOIN runs r ON r.id = l.run_id
                WHERE r.kind = $2 AND r.mode = 'auto' AND r.accepted_at IS NOT NULL
                  AND r.status <> ALL($1::text[]) AND r.work_done_at IS NULL AND l.work_done_at IS NULL
                  AND (l.lease_expires_at IS NULL OR l.lease_expires_at < now())
                  AND NOT (l.run_id::text || ':' || l.lane = ANY($4::text[]))
                  AND (NOT (l.run_id = ANY($3::uuid[]))
                       OR COALESCE(l.last_served_at, l.created_at) < now() - make_interval(secs => $5))
                ORDER BY l.run_id = ANY($3::uuid[]), l.last_served_at NULLS FIRST, r.created_at, l.lane
                LIMIT {leases.CANDIDATES} FOR UPDATE OF l SKIP LOCKED""",
            TERMINAL_STATUS_VALUES,
            kind,
            held_runs,
            held_keys,
            grace_s,
        )
        for row in rows:
            lease = await leases.take(
                connection, row, ttl_s, kind, step=False, holder=holder, lane=row["lane"]
            )
            if lease is not None:
                return lease
    return None


async def others_open(db: Db, run_id: uuid.UUID) -> bool:
    """Whether a lane 1.. of the run is not closed yet."""
    found: bool = await db.fetchval(
        "SELECT EXISTS (SELECT 1 FROM run_lanes WHERE run_id = $1 AND work_done_at IS NULL)", run_id
    )
    return found


async def failure(db: Db, run_id: uuid.UUID) -> str | None:
    """Why a lane's work failed (lane 0's kept reason first), for the run's close; None when none did."""
    reason: str | None = await db.fetchval(
        """SELECT COALESCE(
               (SELECT work_failed_reason FROM runs WHERE id = $1),
               (SELECT failed_reason FROM run_lanes WHERE run_id = $1 AND failed_reason IS NOT NULL
                ORDER BY lane LIMIT 1))""",
        run_id,
    )
    return reason


async def close_run_work(pool: PgPool, run_id: uuid.UUID) -> None:
    """Close the run's work to every lane at once (a lane gave the run up): their holders' next cursor
    save fails and they stop. The run's row first, then its lanes, as finish_work does."""
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute(
            "UPDATE runs SET work_done_at = COALESCE(work_done_at, now()) WHERE id = $1", run_id
        )
        await leases.close_lanes(connection, run_id)
