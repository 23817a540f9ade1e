"""Start in any order: services started while Kafka (or Postgres) is down wait, say not-ready, then work.

A broker of the test's own, stopped at first, so nothing else in the session loses its Kafka.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from shared.db.pool import create_pool
from shared.settings import Settings
from tests.e2e.helpers import org_client, push_new_topics, wait_for_run
from tests.support.infra import service_env
from tests.support.kafka import OwnKafka, own_kafka_and_database
from tests.support.processes import ServiceProcess, free_port, system_processes

pytestmark = pytest.mark.e2e


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[OwnKafka, Settings]]:
    """An own broker (formatted, then stopped) and an own database."""
    # Started once to format its storage; the services then start while it is away.
    async with own_kafka_and_database(tmp_path, "order.activator") as (kafka, settings):
        await kafka.stop()
        yield kafka, settings


async def _probe(url: str) -> tuple[int, dict[str, Any]]:
    async with httpx.AsyncClient(timeout=5) as client:
        response = await client.get(url)
        return response.status_code, response.json()


async def _until_ready(url: str, timeout: float = 90) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if (await _probe(url))[0] == 200:
                return time.monotonic() - started
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.5)
    msg = f"{url} not ready within {timeout}s: {await _probe(url)}"
    raise TimeoutError(msg)


async def test_services_started_before_kafka_work_once_it_comes(
    world: tuple[OwnKafka, Settings], tmp_path: Path
) -> None:
    kafka, settings = world
    gateway_port, mock_port = free_port(), free_port()
    metrics = {name: free_port() for name in ("push-worker", "status-recorder")}
    env = service_env(settings) | {"ACTIVATOR_GATEWAY_PORT": str(gateway_port)}
    services = system_processes(
        env,
        tmp_path,
        mock_port=mock_port,
        sftp_port=free_port(),
        workers=tuple(metrics),
        worker_env=lambda name: env | {"METRICS_PORT": str(metrics[name])},
    )
    worker_probe = f"http://127.0.0.1:{metrics['push-worker']}"
    pool: asyncpg.Pool[Any] = await create_pool(settings.database_url, max_size=2)
    try:
        for service in services.values():
            service.start()
        gateway = f"http://127.0.0.1:{gateway_port}"
        await services["gateway"].wait_for_http(f"{gateway}/healthz", timeout=90)
        await services["push-worker"].wait_for_http(f"{worker_probe}/healthz", timeout=90)
        await asyncio.sleep(3)  # a few retries: nobody exits, nobody pretends to be ready
        gateway_status, gateway_ready = await _probe(f"{gateway}/readyz")
        worker_status, worker_ready = await _probe(f"{worker_probe}/readyz")
        assert all(service.process and service.process.poll() is None for service in services.values())

        await kafka.start()
        ready_after_s = await _until_ready(f"{worker_probe}/readyz")
        await services["mock-platforms"].wait_for_http(f"http://127.0.0.1:{mock_port}/admin/stats/custom_api")
        async with await org_client(pool, gateway) as api:
            connection_id, run_id = await push_new_topics(
                api, f"http://127.0.0.1:{mock_port}", 0, 20, prefix="order"
            )
            final = await wait_for_run(api, connection_id, run_id, timeout=120)
    finally:
        await pool.close()
        for service in services.values():
            service.stop()

    # Postgres answers, Kafka does not: the API stays in rotation (the outbox waits), workers do not.
    assert (gateway_status, gateway_ready["status"]) == (200, "degraded"), gateway_ready
    assert worker_status == 503, worker_ready
    assert worker_ready["checks"] == {"postgres": "ok", "kafka": "not started"}
    assert ready_after_s < 60
    assert (final["status"], final["processed"]) == ("succeeded", 20), final
    for name in ("gateway", "push-worker", "status-recorder"):
        assert "Traceback" not in services[name].log_path.read_text(errors="replace"), name


async def test_without_postgres_they_wait_not_ready_and_stop_cleanly(
    world: tuple[OwnKafka, Settings], tmp_path: Path
) -> None:
    _kafka, settings = world
    gateway_port, metrics_port = free_port(), free_port()
    nowhere = "postgresql://activator:activator@127.0.0.1:9/activator"  # nothing listens on port 9
    env = service_env(settings) | {"DATABASE_URL": nowhere, "ACTIVATOR_GATEWAY_PORT": str(gateway_port)}
    gateway = ServiceProcess("gateway", ["gateway"], env, tmp_path / "gateway.log")
    worker = ServiceProcess(
        "push-worker",
        ["push-worker"],
        env | {"METRICS_PORT": str(metrics_port)},
        tmp_path / "push-worker.log",
    )
    for service in (gateway, worker):
        service.start()
    try:
        await gateway.wait_for_http(f"http://127.0.0.1:{gateway_port}/healthz", timeout=90)
        await worker.wait_for_http(f"http://127.0.0.1:{metrics_port}/healthz", timeout=90)
        gateway_status, gateway_ready = await _probe(f"http://127.0.0.1:{gateway_port}/readyz")
        worker_status, worker_ready = await _probe(f"http://127.0.0.1:{metrics_port}/readyz")
        # SIGTERM while still waiting for Postgres: a clean exit, not a traceback.
        assert worker.process is not None
        worker.process.send_signal(signal.SIGTERM)
        exit_code = await asyncio.to_thread(worker.process.wait, 30)
    finally:
        gateway.stop()
        worker.stop()

    assert gateway_status == 503, gateway_ready
    assert gateway_ready["checks"]["postgres"] != "ok"
    assert worker_status == 503, worker_ready
    assert worker_ready["checks"]["postgres"] == "not connected"
    assert exit_code == 0
    assert "Traceback" not in worker.log_path.read_text(errors="replace")
    assert "postgres_unavailable" in worker.log_path.read_text(errors="replace")
