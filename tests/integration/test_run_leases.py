"""Run leases against real Postgres: who may work which run next, and what a lost lease may still write."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from shared.runs import leases, step_leases
from shared.runs.executor import ExecutorSettings, LeaseKeeper, RunExecutor
from tests.integration.test_connections_api import custom_api_connection

pytestmark = pytest.mark.integration

TTL = 30.0


async def _connection(api: httpx.AsyncClient) -> uuid.UUID:
    return uuid.UUID((await api.post("/api/connections", json=custom_api_connection())).json()["id"])


async def _open_run(pool: asyncpg.Pool[Any], connection_id: uuid.UUID, *, age_s: int = 0) -> uuid.UUID:
    run_id: uuid.UUID = await pool.fetchval(
        """INSERT INTO runs (org_id, connection_id, kind, status, mode, created_at, accepted_at)
           SELECT org_id, id, 'push', 'queued', 'auto', now() - make_interval(secs => $2), now()
           FROM platform_connections WHERE id = $1 RETURNING id""",
        connection_id,
        age_s,
    )
    return run_id


async def _claim_all(pool: asyncpg.Pool[Any]) -> list[leases.Lease]:
    """What free workers would take now, one claim after another (the other replicas' view included)."""
    taken: list[leases.Lease] = []
    while (
        lease := await leases.claim_next(pool, "push", TTL, holding={t.run_id for t in taken})
    ) is not None:
        taken.append(lease)
    return taken


def _mine(taken: list[leases.Lease], runs: set[uuid.UUID]) -> list[uuid.UUID]:
    return [lease.run_id for lease in taken if lease.run_id in runs]


async def test_one_run_per_connection_is_leased_and_the_oldest_goes_first(
    api: httpx.AsyncClient, pool: asyncpg.Pool[Any]
) -> None:
    busy, other = await _connection(api), await _connection(api)
    older = await _open_run(pool, busy, age_s=60)
    newer = await _open_run(pool, busy, age_s=30)
    elsewhere = await _open_run(pool, other)
    taken = await _claim_all(pool)
    assert sorted(_mine(taken, {older, newer, elsewhere})) == sorted([older, elsewhere])
    # The older run's holder gives it back: the newer run of its connection still waits its turn.
    [held] = [lease for lease in taken if lease.run_id == older]
    await leases.release(pool, held)
    again = await _claim_all(pool)
    assert _mine(again, {older, newer}) == [older]
    assert await step_leases.claim_run(pool, newer, "push", TTL) is None  # a step batch waits as well


async def test_a_run_given_back_waits_behind_every_other_run_that_is_waiting(
    api: httpx.AsyncClient, pool: asyncpg.Pool[Any]
) -> None:
    first, second = await _connection(api), await _connection(api)
    long_run = await _open_run(pool, first, age_s=120)
    [lease] = [held for held in await _claim_all(pool) if held.run_id == long_run]
    waiting = await _open_run(pool, second)
    assert await leases.others_waiting(pool, lease, "push")
    await leases.release(pool, lease)
    order = _mine(await _claim_all(pool), {long_run, waiting})
    assert order == [waiting, long_run]


async def test_a_lost_lease_cannot_move_the_cursor_of_the_new_holder(
    api: httpx.AsyncClient, pool: asyncpg.Pool[Any]
) -> None:
    run_id = await _open_run(pool, await _connection(api))
    [stale] = [held for held in await _claim_all(pool) if held.run_id == run_id]
    await pool.execute("UPDATE runs SET lease_expires_at = now() - interval '1 second' WHERE id = $1", run_id)
    [fresh] = [held for held in await _claim_all(pool) if held.run_id == run_id]
    assert not await leases.save_cursor(pool, stale, {"batches": 99})
    assert not await leases.renew(pool, stale, TTL)
    assert await leases.save_cursor(pool, fresh, {"batches": 1})
    assert await pool.fetchval("SELECT work_cursor FROM runs WHERE id = $1", run_id) == {"batches": 1}


async def test_a_run_whose_slices_keep_raising_is_given_up_after_the_limit(
    api: httpx.AsyncClient, pool: asyncpg.Pool[Any]
) -> None:
    run_id = await _open_run(pool, await _connection(api))
    attempts: list[uuid.UUID] = []
    given_up: list[str] = []
    stopping = asyncio.Event()

    async def work(keeper: LeaseKeeper) -> None:
        if keeper.lease.run_id == run_id:
            attempts.append(keeper.lease.run_id)
            # Expire our own lease so the next pass may claim the run again at once.
            await pool.execute("UPDATE runs SET lease_expires_at = now() WHERE id = $1", run_id)
            msg = "a bug in the slice"
            raise RuntimeError(msg)
        await keeper.finish()

    async def give_up(keeper: LeaseKeeper, reason: str) -> None:
        given_up.append(reason)
        await keeper.finish()
        stopping.set()

    settings = ExecutorSettings(kind="push", slots=1, lease_ttl_s=TTL, poll_s=0.01, max_slice_failures=3)
    await asyncio.wait_for(RunExecutor(pool, settings, work, stopping, give_up).run(), timeout=30)
    assert len(attempts) == 3
    assert given_up == ["3 slices in a row failed, the last with RuntimeError: a bug in the slice"]
    assert await pool.fetchval("SELECT work_done_at IS NOT NULL FROM runs WHERE id = $1", run_id)


async def test_a_restarted_instance_gives_back_its_predecessors_leases_at_once(
    api: httpx.AsyncClient, pool: asyncpg.Pool[Any]
) -> None:
    mine, theirs = await _connection(api), await _connection(api)
    crashed_run, other_run = await _open_run(pool, mine), await _open_run(pool, theirs)
    instance = f"push-worker-{uuid.uuid4().hex[:6]}"
    held = await step_leases.claim_run(pool, crashed_run, "push", TTL, holder=instance)
    kept = await step_leases.claim_run(pool, other_run, "push", TTL, holder=f"{instance}-other")
    assert held is not None
    assert kept is not None
    # The process died holding its lease (TTL 30 s): nobody may take the run until the lease expires...
    assert _mine(await _claim_all(pool), {crashed_run}) == []

    # ... unless the same instance comes back: it gives back what its predecessor held, nothing else.
    assert await leases.release_held_by(pool, instance) == 1
    retaken = await _claim_all(pool)
    assert _mine(retaken, {crashed_run, other_run}) == [crashed_run]
    assert not await leases.save_cursor(pool, held, {"after": "x"})  # the dead holder's token is fenced off
    assert await leases.renew(pool, kept, TTL)  # the other instance's lease is untouched
