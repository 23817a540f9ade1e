"""A run committed while Kafka is down is published, once, when Kafka is back.

The test has a world of its own (broker, database, gateway process), so stopping Kafka disturbs no
other test and no other gateway's relay drains its outbox.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from shared.db.orgs import create_org
from shared.db.pool import create_pool
from shared.settings import Settings
from tests.support.infra import service_env
from tests.support.kafka import OwnKafka, own_kafka_and_database
from tests.support.processes import ServiceProcess, free_port

pytestmark = pytest.mark.e2e

CONNECTION: dict[str, Any] = {
    "name": "outage",
    "platform": "custom_api",
    "direction": "outbound",
    "authType": "api_key",
    "authCredentials": {"api_key": "outage-test-credential-7731"},
    "config": {"api_base_url": "http://127.0.0.1:9/custom", "default_cpm": 1.0, "currency": "USD"},
}


@dataclass
class OutageWorld:
    kafka: OwnKafka
    settings: Settings
    pool: asyncpg.Pool[Any]
    gateway: ServiceProcess
    gateway_url: str


@pytest.fixture
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[OutageWorld]:
    """Own broker, own database, own gateway process; all stopped and removed afterwards."""
    root: Path = tmp_path_factory.mktemp("kafka-outage")
    async with own_kafka_and_database(root, "outage.activator") as (kafka, settings):
        port = free_port()
        env = service_env(settings) | {"ACTIVATOR_GATEWAY_PORT": str(port)}
        gateway = ServiceProcess("gateway", ["gateway"], env, root / "gateway.log")
        pool = await create_pool(settings.database_url, max_size=2)
        try:
            gateway.start()
            await gateway.wait_for_http(f"http://127.0.0.1:{port}/readyz")
            yield OutageWorld(kafka, settings, pool, gateway, f"http://127.0.0.1:{port}")
        finally:
            gateway.stop()
            await pool.close()


async def _commands_for(settings: Settings, run_id: str, *, settle_s: float = 5.0) -> list[dict[str, Any]]:
    """Every push command for the run on the topic, read from the start, then `settle_s` more."""
    consumer = AIOKafkaConsumer(
        settings.topic("push.commands"),
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=f"outage-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    found: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    deadline, settled_at = loop.time() + 90, None
    try:
        while loop.time() < deadline and (settled_at is None or loop.time() < settled_at):
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    command = json.loads(record.value)
                    if command["run_id"] == run_id:
                        found.append(command)
                        settled_at = settled_at or loop.time() + settle_s
    finally:
        await consumer.stop()
    return found


async def test_a_run_committed_while_kafka_is_down_is_published_once_kafka_is_back(
    world: OutageWorld,
) -> None:
    _org_id, api_key = await create_org(world.pool, "outage")
    async with httpx.AsyncClient(
        base_url=world.gateway_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=30
    ) as api:
        connection = await api.post("/api/connections", json=CONNECTION)
        assert connection.status_code == 201, connection.text
        connection_id = connection.json()["id"]

        await world.kafka.stop()
        degraded = await api.get("/readyz")  # still in rotation: the outbox holds what Kafka cannot take
        assert degraded.status_code == 200
        assert degraded.json()["status"] == "degraded"
        assert degraded.json()["checks"]["kafka"] != "ok"

        started = await api.post(f"/api/connections/{connection_id}/push/run", json={"dryRun": True})
        assert started.status_code == 202, started.text
        run_id = started.json()["runId"]
        await asyncio.sleep(3)  # the relay keeps trying meanwhile
        pending = await world.pool.fetchval(
            "SELECT count(*) FROM outbox WHERE payload->>'run_id' = $1 AND dispatched_at IS NULL", run_id
        )
        assert pending == 1

        await world.kafka.start()
        commands = await _commands_for(world.settings, run_id)

    assert len(commands) == 1, commands
    assert commands[0]["connection_id"] == connection_id
    for _ in range(100):
        dispatched = await world.pool.fetchval(
            "SELECT dispatched_at IS NOT NULL FROM outbox WHERE payload->>'run_id' = $1", run_id
        )
        if dispatched:
            break
        await asyncio.sleep(0.2)
    assert dispatched
