"""Poison commands go to the DLQ and the worker moves on; SIGTERM hands a run over at a batch boundary."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from shared.settings import Settings
from tests.e2e.conftest import System
from tests.e2e.helpers import (
    add_topics,
    connection_body,
    create_connection,
    org_client,
    push_new_topics,
    start_push,
    wait_for_run,
)
from tests.support.cli import activator
from tests.support.processes import WORKER_READY

pytestmark = pytest.mark.e2e


async def test_a_poison_command_is_dead_lettered_and_the_worker_moves_on(
    system: System, pool: asyncpg.Pool[Any], settings: Settings
) -> None:
    async with await org_client(pool, system.gateway_url) as api:
        connection_id = await create_connection(
            api, connection_body("custom_api", system.mock_url, system.mock_sftp_port)
        )
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
        await producer.start()
        try:
            # Same key as the real run: same partition, so the run completes only if the worker got past it.
            await producer.send_and_wait(
                settings.topic("push.commands"),
                b'{"type": "push", "run_id": "not-a-uuid"}',
                key=connection_id.encode(),
                headers=[("origin", b"e2e-poison")],
            )
        finally:
            await producer.stop()
        await add_topics(api, 30)
        status = await wait_for_run(api, connection_id, await start_push(api, connection_id), timeout=120)
    assert (status["status"], status["succeeded"]) == ("succeeded", 30)

    listed = await activator(settings, "dlq", "list")
    poison = [line for line in listed.splitlines() if "push.commands" in line and "PoisonMessage" in line]
    assert poison, listed
    position = poison[-1].split()[0]
    replayed = await activator(settings, "dlq", "replay", "--message", position)
    assert "replayed 1 message(s)" in replayed


async def test_sigterm_hands_the_run_over_and_it_completes_exactly(
    system: System, pool: asyncpg.Pool[Any]
) -> None:
    worker = system.services["push-worker"]
    async with (
        await org_client(pool, system.gateway_url) as api,
        httpx.AsyncClient(base_url=system.mock_url) as mock,
    ):
        await mock.post("/admin/reset")
        await mock.put("/admin/faults/custom_api", json={"latency_ms": 20, "count": 1_000_000})
        connection_id, run_id = await push_new_topics(api, system.mock_url, system.mock_sftp_port, 1500)
        for _ in range(1200):
            status = (await api.get(f"/api/connections/{connection_id}/push/run/{run_id}/status")).json()
            if status["processed"] >= 200:
                break
            await asyncio.sleep(0.05)
        worker.kill(signal.SIGTERM)
        mid = (await api.get(f"/api/connections/{connection_id}/push/run/{run_id}/status")).json()
        restart_from = worker.log_size()
        worker.start()
        await worker.wait_for_log(WORKER_READY, after=restart_from)
        final = await wait_for_run(api, connection_id, run_id, timeout=300)
        await mock.delete("/admin/faults/custom_api")
        stats = (await mock.get("/admin/stats/custom_api")).json()
    log = worker.log_path.read_text(errors="replace")
    assert "push_run_handed_over" in log
    assert mid["status"] == "running"
    assert mid["processed"] < 1500
    assert (final["status"], final["processed"], final["succeeded"]) == ("succeeded", 1500, 1500)
    assert stats["segments"] == 1500
    assert len(stats["creates_by_key"]) == 1500
