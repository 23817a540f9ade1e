"""One big run, two push-worker replicas: the run's lanes are pushed by both at once, every topic is
made once on the platform and the run ends with one terminal result per item (issue 21)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import httpx
from prometheus_client.parser import text_string_to_metric_families

from shared.settings import Settings
from tests.e2e.conftest import System
from tests.e2e.helpers import (
    add_topics,
    connection_body,
    create_connection,
    org_client,
    start_push,
    wait_for_run,
)
from tests.support.infra import service_env
from tests.support.processes import WORKER_READY, ServiceProcess, free_port

TOPICS = 2400  # PUSH_LANE_MIN_ITEMS 500 and PUSH_RUN_LANES 2: the run gets two lanes
ITEMS = "activator_items_pushed_total"


async def _pushed(client: httpx.AsyncClient, url: str) -> float:
    text = (await client.get(url)).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == ITEMS
    )


async def test_two_replicas_push_one_big_run_together(
    system: System, pool: asyncpg.Pool[Any], settings: Settings, tmp_path: Path
) -> None:
    port = free_port()
    second = ServiceProcess(
        "push-worker-2",
        ["push-worker"],
        service_env(settings) | {"METRICS_PORT": str(port), "WORKER_INSTANCE_ID": "push-worker-2"},
        tmp_path / "push-worker-2.log",
    )
    second.start()
    urls = [system.metrics_urls["push-worker"], f"http://127.0.0.1:{port}/metrics"]
    body = connection_body("custom_api", system.mock_url, system.mock_sftp_port)
    try:
        await second.wait_for_log(WORKER_READY)
        async with (
            await org_client(pool, system.gateway_url) as api,
            httpx.AsyncClient(base_url=system.mock_url, timeout=30) as mock,
            httpx.AsyncClient(timeout=10) as metrics,
        ):
            await mock.post("/admin/reset")
            # 20 ms a call: the run lasts long enough for the second replica to find its lane.
            await mock.put("/admin/faults/custom_api", json={"latency_ms": 20, "count": 1_000_000})
            try:
                connection_id = await create_connection(api, body)
                await add_topics(api, TOPICS, prefix="lanes")
                before = [await _pushed(metrics, url) for url in urls]
                run_id = await start_push(api, connection_id)
                final = await wait_for_run(api, connection_id, run_id, timeout=300)
                after = [await _pushed(metrics, url) for url in urls]
                stats = (await mock.get("/admin/stats/custom_api")).json()
            finally:
                await mock.delete("/admin/faults/custom_api")
        lanes = await pool.fetchval("SELECT lanes FROM runs WHERE id = $1", run_id)
    finally:
        second.stop()

    assert (final["status"], final["succeeded"], final["total"]) == ("succeeded", TOPICS, TOPICS), final
    assert lanes == 2
    assert stats["segments"] == len(stats["creates_by_key"]) == TOPICS  # every topic made, once
    shares = [(late - early) / TOPICS for early, late in zip(before, after, strict=True)]
    assert sum(shares) == 1.0  # each item pushed by exactly one replica
    assert min(shares) > 0.2, shares  # both replicas pushed a lane's share
