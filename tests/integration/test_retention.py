"""Retention: old dispatched outbox rows, finished runs (items, errors, rejects) go; new rows, open runs,
pending outbox rows and the activation ledger stay; the tables stay bounded while runs keep flowing.

A database of its own: pruning with tiny settings would otherwise delete other tests' finished runs.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from services.gateway.retention import RetentionPruner
from shared.db.orgs import create_org
from shared.settings import Settings
from tests.support.infra import own_database_pool

pytestmark = pytest.mark.integration

DAY = "interval '1 day'"


@pytest.fixture(scope="module")
async def own_pool() -> AsyncIterator[asyncpg.Pool[Any]]:
    async with own_database_pool(max_size=4, prefix="activator_retention") as (_url, pool):
        yield pool


async def _connection(pool: asyncpg.Pool[Any]) -> tuple[uuid.UUID, uuid.UUID]:
    org_id, _key = await create_org(pool, f"retention-{uuid.uuid4().hex[:6]}")
    connection_id: uuid.UUID = await pool.fetchval(
        """INSERT INTO platform_connections (org_id, name, platform, direction, auth_type)
           VALUES ($1, 'retention', 'custom_api', 'bidirectional', 'none') RETURNING id""",
        org_id,
    )
    return org_id, connection_id


async def _run(
    pool: asyncpg.Pool[Any],
    ids: tuple[uuid.UUID, uuid.UUID],
    *,
    status: str,
    age: str,
    items: int = 0,
    kind: str = "push",
    extra: str = "",
    parent: uuid.UUID | None = None,
) -> uuid.UUID:
    """A run created and (when final) finished `age` ago, with `items` items, errors and rejects."""
    final = status not in {"queued", "running"}
    run_id: uuid.UUID = await pool.fetchval(
        f"""INSERT INTO runs (org_id, connection_id, kind, status, parent_run_id, created_at, finished_at,
                              processed, errors_stored)
            VALUES ($1, $2, $3, $4, $5, now() - {age}, CASE WHEN $6 THEN now() - {age} END, $7, least($7, 50))
            RETURNING id""",
        *ids,
        kind,
        status,
        parent,
        final,
        items,
    )
    if extra:
        await pool.execute(f"UPDATE runs SET {extra} WHERE id = $1", run_id)
    await pool.execute(
        f"""INSERT INTO run_items (run_id, item_id, outcome, event_id, at)
            SELECT $1, 'item-' || n, 'failed', gen_random_uuid(), now() - {age} FROM generate_series(1, $2) n""",
        run_id,
        items,
    )
    await pool.execute(
        f"""INSERT INTO run_errors (run_id, item_id, code, message, at)
            SELECT $1, 'item-' || n, 'E', 'broken', now() - {age} FROM generate_series(1, least($2, 50)) n""",
        run_id,
        items,
    )
    await pool.execute(
        f"""INSERT INTO sync_rejects (run_id, page, position, reason, payload, at)
            SELECT $1, 1, n, 'no name', '{{}}', now() - {age} FROM generate_series(1, least($2, 20)) n""",
        run_id,
        items,
    )
    return run_id


async def _outbox(pool: asyncpg.Pool[Any], *, created: str, dispatched: str | None) -> int:
    row_id: int = await pool.fetchval(
        f"""INSERT INTO outbox (topic, key, payload, created_at, dispatched_at)
            VALUES ('t', 'k', '{{}}', now() - {created}, {f"now() - {dispatched}" if dispatched else "NULL"})
            RETURNING id"""
    )
    return row_id


async def _exists(pool: asyncpg.Pool[Any], table: str, row_id: object) -> bool:
    found: bool = await pool.fetchval(f"SELECT EXISTS (SELECT 1 FROM {table} WHERE id = $1)", row_id)
    return found


async def _count(pool: asyncpg.Pool[Any], table: str, run_id: uuid.UUID) -> int:
    count: int = await pool.fetchval(f"SELECT count(*) FROM {table} WHERE run_id = $1", run_id)
    return count


def _pruner(pool: asyncpg.Pool[Any], **settings: object) -> RetentionPruner:
    update: dict[str, object] = {"retention_batch_rows": 500, "retention_batch_pause_s": 0.0, **settings}
    return RetentionPruner(pool, Settings().model_copy(update=update))


async def test_old_finished_rows_go_and_new_or_open_rows_stay(own_pool: asyncpg.Pool[Any]) -> None:
    pool = own_pool
    ids = await _connection(pool)
    old = f"2 * {DAY}"
    # 2,500 items: more than one batch (500 rows), so the run goes over several transactions.
    old_run = await _run(pool, ids, status="partial", age=old, items=2_500)
    retry_child = await _run(pool, ids, status="running", age="interval '1 minute'", parent=old_run)
    recent_run = await _run(pool, ids, status="succeeded", age="interval '1 hour'", items=10)
    # Open however old: accepted and leased, or finished on paper while a worker still holds its lease.
    open_run = await _run(
        pool,
        ids,
        status="running",
        age=f"60 * {DAY}",
        items=10,
        extra="accepted_at = now() - interval '60 days', lease_owner = gen_random_uuid(), "
        "lease_expires_at = now() + interval '10 seconds'",
    )
    leased_final = await _run(
        pool,
        ids,
        status="cancelled",
        age=old,
        items=5,
        extra="lease_expires_at = now() + interval '10 seconds'",
    )
    # A sync run in the window of runs but past the window of rejects: its rejects go, the run stays.
    rejects_run = await _run(pool, ids, status="partial", kind="sync", age="interval '3 hours'", items=5)
    open_sync = await _run(pool, ids, status="running", kind="sync", age=f"5 * {DAY}", items=5)
    old_sent = await _outbox(pool, created=old, dispatched=old)
    recent_sent = await _outbox(pool, created=old, dispatched="interval '1 minute'")
    never_sent = await _outbox(pool, created=old, dispatched=None)
    topic_id = await pool.fetchval(
        "INSERT INTO topics (org_id, name) VALUES ($1, 'kept') RETURNING id", ids[0]
    )
    await pool.execute(
        """INSERT INTO activations (connection_id, topic_id, org_id, state, last_run_id)
           VALUES ($1, $2, $3, 'active', $4)""",
        ids[1],
        topic_id,
        ids[0],
        old_run,
    )

    totals = await _pruner(
        pool, retention_outbox_s=86_400.0, retention_runs_days=1.0, retention_sync_rejects_days=1 / 24
    ).round()

    assert not await _exists(pool, "runs", old_run)
    assert await _count(pool, "run_items", old_run) == 0
    assert await _count(pool, "run_errors", old_run) == 0
    assert totals["run_items"] == 2_500
    assert totals["runs"] == 1
    for kept in (retry_child, recent_run, open_run, leased_final, rejects_run, open_sync):
        assert await _exists(pool, "runs", kept), kept
    assert await pool.fetchval("SELECT parent_run_id FROM runs WHERE id = $1", retry_child) is None
    assert await _count(pool, "run_items", recent_run) == 10
    assert await _count(pool, "run_items", open_run) == 10
    assert await _count(pool, "sync_rejects", rejects_run) == 0
    assert await _count(pool, "run_items", rejects_run) == 5
    assert await _count(pool, "sync_rejects", open_sync) == 5, "an open run keeps its rejects"
    assert not await _exists(pool, "outbox", old_sent)
    assert await _exists(pool, "outbox", recent_sent)
    assert await _exists(pool, "outbox", never_sent), "an undispatched row is never pruned"
    assert await pool.fetchval("SELECT count(*) FROM activations WHERE connection_id = $1", ids[1]) == 1

    nothing = await _pruner(pool, retention_runs_days=0.0, retention_outbox_s=0.0).round()
    assert nothing == {"sync_rejects": 0}, "0 keeps runs and outbox rows forever"


async def test_the_tables_stay_bounded_while_runs_keep_flowing(own_pool: asyncpg.Pool[Any]) -> None:
    pool = own_pool
    ids = await _connection(pool)
    open_run = await _run(
        pool,
        ids,
        status="running",
        age=f"90 * {DAY}",
        items=3,
        extra="accepted_at = now() - interval '90 days'",
    )
    # Rows older than one second go; the pruner wakes every 0.2 s, as the gateway's loop does.
    pruner = _pruner(
        pool,
        retention_outbox_s=1.0,
        retention_runs_days=1.0 / 86_400,
        retention_sync_rejects_days=1.0 / 86_400,
        retention_batch_rows=1_000,  # the default
    )
    task = asyncio.create_task(pruner.run(interval_s=0.2), name="retention")
    runs_written, peak_runs, peak_items, peak_outbox = 0, 0, 0, 0
    try:
        deadline = time.monotonic() + 8.0
        while time.monotonic() < deadline:
            for _ in range(5):  # a finished run of 40 items and its dispatched command, every 20 ms
                await _run(pool, ids, status="succeeded", age="interval '0 seconds'", items=40)
                await _outbox(pool, created="interval '0 seconds'", dispatched="interval '0 seconds'")
                runs_written += 1
            peak_runs = max(peak_runs, await pool.fetchval("SELECT count(*) FROM runs"))
            peak_items = max(peak_items, await pool.fetchval("SELECT count(*) FROM run_items"))
            peak_outbox = max(peak_outbox, await pool.fetchval("SELECT count(*) FROM outbox"))
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    # About 1.2 s of writes (retention + one interval) are on hand at a time; 3 s leaves room for a busy
    # machine, and is well under the 8 s written.
    rate = runs_written / 8.0
    print(
        f"retention: {runs_written} runs written, peak {peak_runs} runs / {peak_items} items / {peak_outbox} outbox"
    )
    assert peak_runs < runs_written / 2, "most of what flowed through was pruned while it flowed"
    assert peak_runs < rate * 3 + 10, (peak_runs, rate)
    assert peak_items < rate * 3 * 40 + 100, (peak_items, rate)
    assert peak_outbox < rate * 3 + 10, (peak_outbox, rate)
    assert await _exists(pool, "runs", open_run), "an open run survives every pass"
    assert await _count(pool, "run_items", open_run) == 3
