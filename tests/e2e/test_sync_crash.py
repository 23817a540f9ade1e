"""A sync-worker killed (SIGKILL) or stopped (SIGTERM) mid-run: the command resumes from the page checkpoint."""

from __future__ import annotations

import asyncio
import random
import signal
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from tests.e2e.conftest import System
from tests.e2e.helpers import org_client, wait_for_run
from tests.e2e.sync_helpers import (
    connection_topics,
    create_dmp_connection,
    feed_records,
    figures,
    set_records,
    start_sync,
)
from tests.support.processes import WORKER_READY

pytestmark = pytest.mark.e2e

PAGE_SIZE = 500
PARALLEL_PAGES = 8  # offset pages in flight at once (the default), committed in order
COMMIT_MAX_PAGES = 10  # SYNC_COMMIT_MAX_PAGES' default: pages taken into one transaction


@pytest.mark.parametrize(
    ("sig", "records"),
    [(signal.SIGKILL, 20_000), (signal.SIGTERM, 20_000)],
    ids=["kill-9", "sigterm"],
)
async def test_a_sync_worker_gone_mid_run_resumes_with_exact_counters(
    system: System, pool: asyncpg.Pool[Any], sig: signal.Signals, records: int
) -> None:
    worker = system.services["sync-worker"]
    pages = records // PAGE_SIZE
    kill_after_pages = random.Random(6).randint(3, pages // 2)  # seeded: a repeatable point in the run
    async with (
        await org_client(pool, system.gateway_url) as api,
        httpx.AsyncClient(base_url=system.mock_url) as mock,
    ):
        await mock.post("/admin/reset")
        await set_records(mock, feed_records(records, seed=30))
        # Slow enough that the run is still paging, eight requests at a time, when the crash comes.
        await mock.put("/admin/faults/dmp", json={"latency_ms": 250})
        connection_id = await create_dmp_connection(
            api, system.mock_url, pagination_params={"page_size": PAGE_SIZE}, parallel_pages=PARALLEL_PAGES
        )
        run_id = await start_sync(api, connection_id)
        status: dict[str, Any] = {}
        for _ in range(1200):
            status = (await api.get(f"/api/connections/{connection_id}/sync/run/{run_id}/status")).json()
            if status["pages"] >= kill_after_pages:
                break
            await asyncio.sleep(0.05)
        assert status["status"] == "running", "the run finished before the crash point; slow the DMP down"
        worker.kill(sig)
        at_kill = (await api.get(f"/api/connections/{connection_id}/sync/run/{run_id}/status")).json()
        restart_from = worker.log_size()
        worker.start()
        await worker.wait_for_log(WORKER_READY, after=restart_from)
        await mock.delete("/admin/faults/dmp")

        final = await wait_for_run(api, connection_id, run_id, kind="sync", timeout=300)
        requests = (await mock.get("/admin/stats/dmp")).json()["requests"]
        seen_twice = await pool.fetchval(
            "SELECT count(*) - count(DISTINCT external_id) FROM topics WHERE source_connection_id = $1",
            uuid.UUID(connection_id),
        )

    assert kill_after_pages <= at_kill["pages"] < pages
    if sig == signal.SIGTERM:
        assert "sync_run_handed_over" in worker.log_path.read_text(errors="replace")
    assert figures(final) == {
        "status": "succeeded",
        "total": records,
        "processed": records,
        "inserted": records,
        "updated": 0,
        "unchanged": 0,
        "invalid": 0,
        "pages": pages,
    }, final
    assert final["skipped"] == 0  # no record was taken twice
    assert await connection_topics(pool, connection_id) == records
    assert seen_twice == 0
    # The count, every page once, the recount, and again at most the pages fetched but not committed at
    # the crash: those in flight or waiting (PARALLEL_PAGES) and those in the transaction it cut short.
    assert 1 + pages + 1 <= requests <= 1 + pages + 1 + PARALLEL_PAGES + COMMIT_MAX_PAGES
