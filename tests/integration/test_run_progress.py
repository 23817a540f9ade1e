"""The step loop's wait against real Postgres: a request is woken by the run's notification, not a poll."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx
import pytest

from services.gateway.run_progress import CHANNEL, RunProgress
from shared.db import runs as repo
from tests.integration.test_run_leases import _connection, _open_run

pytestmark = pytest.mark.integration


class CountingReads:
    """The pool, counting the runs a wait reads (one read after each wake-up)."""

    def __init__(self, pool: asyncpg.Pool[Any]) -> None:
        self.pool = pool
        self.reads = 0
        self.first_read = asyncio.Event()

    async def fetchrow(self, query: str, *args: object) -> asyncpg.Record | None:
        self.reads += 1
        row = await self.pool.fetchrow(query, *args)
        self.first_read.set()
        return row


async def test_a_recorded_batch_notifies_its_run_and_a_cursor_save_does_not(
    api: httpx.AsyncClient, pool: asyncpg.Pool[Any]
) -> None:
    run_id = await _open_run(pool, await _connection(api))
    heard: asyncio.Queue[str] = asyncio.Queue()

    def hear(*args: object) -> None:
        if str(args[3]) == str(run_id):  # other tests' runs move meanwhile
            heard.put_nowait(str(args[3]))

    async with pool.acquire() as listener:
        await listener.add_listener(CHANNEL, hear)
        await pool.execute("UPDATE runs SET work_cursor = '{}', heartbeat_at = now() WHERE id = $1", run_id)
        await pool.execute("UPDATE runs SET processed = processed + 25 WHERE id = $1", run_id)
        try:
            assert await asyncio.wait_for(heard.get(), timeout=30) == str(run_id)
            assert heard.empty()  # the cursor save before it told nobody
        finally:
            await listener.remove_listener(CHANNEL, hear)


async def test_a_waiting_step_answers_when_its_batch_is_recorded(
    api: httpx.AsyncClient, pool: asyncpg.Pool[Any]
) -> None:
    run_id = await _open_run(pool, await _connection(api))
    run = await repo.get_run_by_id(pool, run_id)
    assert run is not None
    progress = RunProgress(pool)
    progress.start()
    try:
        await asyncio.wait_for(progress.listening.wait(), timeout=30)
        reads = CountingReads(pool)
        waiting = asyncio.create_task(
            progress.wait(reads, run.org_id, run, lambda now: now.processed >= 25, timeout_s=60)  # type: ignore[arg-type]
        )
        await reads.first_read.wait()  # the wait has read the run once and now waits to be told
        await pool.execute("UPDATE runs SET processed = 25 WHERE id = $1", run_id)
        moved = await asyncio.wait_for(waiting, timeout=60)
    finally:
        await progress.stop()
    assert moved.processed == 25
    assert reads.reads <= 3  # woken by the notification: no poll every 50 ms for the run
