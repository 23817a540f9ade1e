"""Runs and the transactional outbox against real Postgres and Kafka."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from shared.settings import Settings
from tests.integration.test_connections_api import custom_api_connection

pytestmark = pytest.mark.integration


async def _commands_for(settings: Settings, run_id: str, timeout: float = 30) -> list[dict[str, Any]]:
    consumer = AIOKafkaConsumer(
        settings.topic("push.commands"),
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=f"test-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    found: list[dict[str, Any]] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    command = json.loads(record.value)
                    if command["run_id"] == run_id:
                        found.append({"key": record.key.decode(), **command})
            if found:
                # Keep reading briefly to catch a duplicate publication, if any.
                more = await consumer.getmany(timeout_ms=1000)
                for records in more.values():
                    found.extend(
                        {"key": r.key.decode(), **json.loads(r.value)}
                        for r in records
                        if json.loads(r.value)["run_id"] == run_id
                    )
                return found
    finally:
        await consumer.stop()
    return found


async def test_a_started_run_is_published_once_keyed_by_connection(
    api: httpx.AsyncClient, settings: Settings, pool: asyncpg.Pool[Any]
) -> None:
    connection = (await api.post("/api/connections", json=custom_api_connection())).json()
    started = await api.post(f"/api/connections/{connection['id']}/push/run", json={"dryRun": True})
    assert started.status_code == 202, started.text
    run_id = started.json()["runId"]
    commands = await _commands_for(settings, run_id)
    assert len(commands) == 1
    assert commands[0]["key"] == connection["id"]
    assert commands[0]["dry_run"] is True
    pending = await pool.fetchval(
        "SELECT count(*) FROM outbox WHERE payload->>'run_id' = $1 AND dispatched_at IS NULL", run_id
    )
    assert pending == 0


async def test_a_refused_run_leaves_no_run_and_no_command(
    api: httpx.AsyncClient, pool: asyncpg.Pool[Any]
) -> None:
    body = custom_api_connection(enabled=False)
    connection = (await api.post("/api/connections", json=body)).json()
    before = await pool.fetchval("SELECT count(*) FROM outbox")
    response = await api.post(f"/api/connections/{connection['id']}/push/run", json={})
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
    assert await pool.fetchval("SELECT count(*) FROM outbox") == before
    assert (
        await pool.fetchval("SELECT count(*) FROM runs WHERE connection_id = $1", uuid.UUID(connection["id"]))
        == 0
    )


async def test_run_status_of_an_unknown_run_is_404(api: httpx.AsyncClient) -> None:
    connection = (await api.post("/api/connections", json=custom_api_connection())).json()
    response = await api.get(f"/api/connections/{connection['id']}/push/run/{uuid.uuid4()}/status")
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("content", "content_type"),
    [(None, None), (b"", "application/json"), (b"null", "application/json"), (b"{}", "application/json")],
    ids=["no-body", "empty", "null", "empty-object"],
)
async def test_a_run_started_without_a_body_pushes_every_active_topic_in_auto_mode(
    api: httpx.AsyncClient, settings: Settings, content: bytes | None, content_type: str | None
) -> None:
    connection = (await api.post("/api/connections", json=custom_api_connection())).json()
    topics = [{"name": f"Guide topic {index}"} for index in range(3)]
    assert (await api.post("/api/topics/bulk", json={"topics": topics})).status_code == 200
    headers = {"Content-Type": content_type} if content_type else {}
    started = await api.post(
        f"/api/connections/{connection['id']}/push/run", content=content, headers=headers
    )
    synced = await api.post(f"/api/connections/{connection['id']}/sync/run", content=content, headers=headers)
    assert started.status_code == 202, started.text
    assert (started.json()["total"], started.json()["countStatus"]) == (3, "counted")
    commands = await _commands_for(settings, started.json()["runId"])
    assert [(c["topic_ids"], c["dry_run"], c["mode"]) for c in commands] == [(None, False, "auto")]
    # A push-only connection refuses a sync, but the body was never the reason.
    assert synced.status_code == 409, synced.text
