"""A push-worker killed with SIGKILL mid-run: the run completes with no duplicate and no double count."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import asyncpg
import httpx
import pytest

from tests.e2e.conftest import System
from tests.e2e.helpers import org_client, outcomes, push_new_topics, wait_for_run
from tests.support.processes import WORKER_READY

pytestmark = pytest.mark.e2e

TOPICS = 2000


async def test_kill_9_of_the_push_worker_mid_run_loses_and_duplicates_nothing(
    system: System, pool: asyncpg.Pool[Any]
) -> None:
    worker = system.services["push-worker"]
    kill_after = random.Random(7).randint(300, 1200)  # seeded: a repeatable point in the run
    async with (
        await org_client(pool, system.gateway_url) as api,
        httpx.AsyncClient(base_url=system.mock_url) as mock,
    ):
        await mock.post("/admin/reset")
        await mock.put("/admin/faults/custom_api", json={"latency_ms": 15, "count": 1_000_000})
        connection_id, run_id = await push_new_topics(api, system.mock_url, system.mock_sftp_port, TOPICS)
        for _ in range(600):
            status = (await api.get(f"/api/connections/{connection_id}/push/run/{run_id}/status")).json()
            if status["processed"] >= kill_after:
                break
            await asyncio.sleep(0.05)
        assert status["status"] == "running", (
            "the run finished before the crash point; slow the platform down"
        )
        worker.kill()
        restart_from = worker.log_size()
        worker.start()
        await worker.wait_for_log(WORKER_READY, after=restart_from)

        final = await wait_for_run(api, connection_id, run_id, timeout=300)
        await mock.delete("/admin/faults/custom_api")
        stats = (await mock.get("/admin/stats/custom_api")).json()

    assert (final["status"], final["total"], final["processed"]) == ("succeeded", TOPICS, TOPICS)
    assert final["succeeded"] == TOPICS
    assert await outcomes(pool, run_id) == {"created": TOPICS}
    assert stats["segments"] == TOPICS  # the platform holds each segment once
    assert len(stats["creates_by_key"]) == TOPICS
