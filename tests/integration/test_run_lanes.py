"""Run lanes against real Postgres: a big run's lanes go to different replicas, the connection's other
runs still wait, lane 0 closes the run only after the other lanes, and a closed run stops every lane."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from shared.db import runs
from shared.runs import lanes, leases
from shared.runs.leases import Lease
from tests.integration.test_run_leases import TTL, _connection, _open_run

pytestmark = pytest.mark.integration


async def _split(pool: asyncpg.Pool[Any], run_id: uuid.UUID, count: int) -> Lease:
    """Lane 0 claimed and the run split into `count` lanes, as a run's first slice does it."""
    lease = await leases.claim_next(pool, "push", TTL, holding=set())
    assert lease is not None
    assert lease.run_id == run_id
    assert await lanes.decide(pool, run_id, count) == count
    assert await lanes.decide(pool, run_id, 7) == count  # the first decision stands
    await lanes.open_lanes(pool, run_id, count)
    await lanes.open_lanes(pool, run_id, count)  # safe to repeat
    return Lease(lease.run_id, lease.org_id, lease.connection_id, lease.token, None, lane=0, lanes=count)


async def _claim_lane(
    pool: asyncpg.Pool[Any], holding: set[tuple[uuid.UUID, int]], grace_s: float = 60
) -> Lease | None:
    return await lanes.claim_lane(pool, "push", TTL, holding=holding, grace_s=grace_s)


async def test_a_replica_holding_none_of_the_run_takes_its_next_lane_at_once(
    api: httpx.AsyncClient, pool: asyncpg.Pool[Any]
) -> None:
    run_id = await _open_run(pool, await _connection(api))
    first = await _split(pool, run_id, 3)
    # The replica holding lane 0 waits the grace before taking a second lane of the same run...
    assert await _claim_lane(pool, {first.key}) is None
    # ...another replica does not.
    second = await _claim_lane(pool, set())
    assert second is not None
    assert (second.run_id, second.lane, second.lanes) == (run_id, 1, 3)
    third = await _claim_lane(pool, {first.key}, grace_s=0)
    assert third is not None
    assert third.lane == 2
    assert await _claim_lane(pool, set(), grace_s=0) is None  # every lane is held


async def test_the_connections_next_run_waits_while_any_lane_of_its_run_is_held(
    api: httpx.AsyncClient, pool: asyncpg.Pool[Any]
) -> None:
    connection_id = await _connection(api)
    run_id = await _open_run(pool, connection_id, age_s=60)
    newer = await _open_run(pool, connection_id)
    first = await _split(pool, run_id, 2)
    lane = await _claim_lane(pool, set())
    assert lane is not None
    await leases.release(pool, first)
    await leases.finish_work(pool, lane)  # lane 1 closed, lane 0 free: the older run is still open
    taken = await leases.claim_next(pool, "push", TTL, holding=set())
    assert taken is not None
    assert taken.run_id == run_id
    lane_again = await _claim_lane(pool, set())
    assert lane_again is None
    await leases.finish_work(pool, taken)
    newest = await leases.claim_next(pool, "push", TTL, holding=set())
    assert newest is not None
    assert newest.run_id == newer


async def test_lane_zero_waiting_for_its_lanes_is_claimed_again_once_they_are_done(
    api: httpx.AsyncClient, pool: asyncpg.Pool[Any]
) -> None:
    run_id = await _open_run(pool, await _connection(api))
    first = await _split(pool, run_id, 2)
    lane = await _claim_lane(pool, set())
    assert lane is not None
    await leases.release(pool, first, wait_for_lanes="the platform refused the credentials")
    assert await leases.claim_next(pool, "push", TTL, holding=set()) is None
    # Another connection's slice does not give its run up for a lane 0 that has nothing to do yet.
    elsewhere = await _open_run(pool, await _connection(api))
    other = await leases.claim_next(pool, "push", TTL, holding=set())
    assert other is not None
    assert other.run_id == elsewhere
    assert not await leases.others_waiting(pool, other, "push")
    assert await lanes.others_open(pool, run_id)
    await leases.finish_work(pool, lane, failed_reason=None)
    assert not await lanes.others_open(pool, run_id)
    again = await leases.claim_next(pool, "push", TTL, holding=set())
    assert again is not None
    assert (again.run_id, again.lane, again.lanes) == (run_id, 0, 2)
    assert await lanes.failure(pool, run_id) == "the platform refused the credentials"


async def test_a_lanes_failure_is_kept_for_the_close_and_a_run_closed_stops_every_lane(
    api: httpx.AsyncClient, pool: asyncpg.Pool[Any]
) -> None:
    run_id = await _open_run(pool, await _connection(api))
    first = await _split(pool, run_id, 3)
    one, two = await _claim_lane(pool, set()), await _claim_lane(pool, set())
    assert one is not None
    assert two is not None
    await leases.finish_work(pool, one, failed_reason="lane one was refused")
    assert await lanes.failure(pool, run_id) == "lane one was refused"
    assert await leases.save_cursor(pool, two, {"batches": 1})
    assert await pool.fetchval(
        "SELECT work_cursor FROM run_lanes WHERE run_id = $1 AND lane = 2", run_id
    ) == {"batches": 1}
    await lanes.close_run_work(pool, run_id)  # given up through lane 2, say
    assert not await leases.save_cursor(pool, two, {"batches": 2})
    assert not await leases.save_cursor(pool, first, {"batches": 2})
    assert await leases.claim_next(pool, "push", TTL, holding=set()) is None
    assert await _claim_lane(pool, set(), grace_s=0) is None


async def test_a_restarted_instance_gives_back_the_lanes_its_predecessor_held(
    api: httpx.AsyncClient, pool: asyncpg.Pool[Any]
) -> None:
    run_id = await _open_run(pool, await _connection(api))
    await _split(pool, run_id, 2)
    held = await lanes.claim_lane(pool, "push", TTL, holding=set(), grace_s=60, holder="worker-a")
    assert held is not None
    assert await _claim_lane(pool, set()) is None
    assert await leases.release_held_by(pool, "worker-a") == 1
    assert not await leases.renew(pool, held, TTL)  # the old token is fenced off
    taken = await _claim_lane(pool, set())
    assert taken is not None
    assert taken.lane == 1


async def test_a_pause_one_lane_heard_is_read_by_the_others_before_their_next_batch(
    api: httpx.AsyncClient, pool: asyncpg.Pool[Any]
) -> None:
    run_id = await _open_run(pool, await _connection(api))
    await pool.execute("UPDATE runs SET status = 'running' WHERE id = $1", run_id)
    assert await runs.cancel_or_pause(pool, run_id) == (False, 0.0)
    await runs.set_throttled_until(pool, run_id, 30)  # lane 1's throttle heard a Retry-After of 30 s
    cancelled, paused_s = await runs.cancel_or_pause(pool, run_id)
    assert not cancelled
    assert 25 < paused_s <= 30
    await pool.execute("UPDATE runs SET cancel_requested = true WHERE id = $1", run_id)
    assert (await runs.cancel_or_pause(pool, run_id))[0]


async def test_another_connections_slice_gives_its_run_back_for_a_lane_that_waits(
    api: httpx.AsyncClient, pool: asyncpg.Pool[Any]
) -> None:
    # Runs the tests before left open would count as waiting too: this test starts from none.
    await pool.execute("UPDATE runs SET work_done_at = now() WHERE work_done_at IS NULL")
    long_run = await _open_run(pool, await _connection(api), age_s=60)
    long_lease = await leases.claim_next(pool, "push", TTL, holding=set())
    assert long_lease is not None
    assert long_lease.run_id == long_run
    assert not await leases.others_waiting(pool, long_lease, "push")
    split = await _open_run(pool, await _connection(api))
    await _split(pool, split, 2)  # its lane 0 is held; its lane 1 waits for a slot
    assert await leases.others_waiting(pool, long_lease, "push")
    lane = await _claim_lane(pool, set())
    assert lane is not None
    assert not await leases.others_waiting(pool, long_lease, "push")
