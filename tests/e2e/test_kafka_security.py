"""Activator over a SASL_SSL listener (TLS + SCRAM-SHA-512), as MSK, Confluent Cloud or Strimzi serve it.

A broker of the test's own (deploy/local/kafka.sh with ACTIVATOR_KAFKA_SECURITY=SASL_SSL): the whole
system pushes and syncs through it; a service given the wrong password exits at once with one line.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from shared.db.pool import create_pool
from shared.settings import Settings
from tests.e2e.conftest import running_system
from tests.e2e.helpers import org_client, push_new_topics, wait_for_run
from tests.e2e.sync_helpers import create_dmp_connection, feed_records, set_records, sync_to_end
from tests.support.infra import service_env
from tests.support.kafka import OwnKafka, own_kafka_and_database

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
async def secured(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[OwnKafka, Settings]]:
    """A SASL_SSL broker and a database of this module's own, removed afterwards."""
    root: Path = tmp_path_factory.mktemp("kafka-sasl-ssl")
    async with own_kafka_and_database(root, "sasl.activator", security="SASL_SSL") as secured_world:
        yield secured_world


async def test_a_push_and_a_sync_run_end_to_end_over_sasl_ssl(
    secured: tuple[OwnKafka, Settings], tmp_path: Path
) -> None:
    kafka, settings = secured
    pool: asyncpg.Pool[Any] = await create_pool(settings.database_url, max_size=2)
    try:
        async with (
            running_system(settings, tmp_path, extra_env=kafka.client_env()) as system,
            await org_client(pool, system.gateway_url) as api,
            httpx.AsyncClient(base_url=system.mock_url) as mock,
        ):
            await mock.post("/admin/reset")
            push_connection, run_id = await push_new_topics(
                api, system.mock_url, system.mock_sftp_port, 50, prefix="sasl"
            )
            pushed = await wait_for_run(api, push_connection, run_id, timeout=120)

            await set_records(mock, feed_records(300, seed=16))
            synced = await sync_to_end(api, await create_dmp_connection(api, system.mock_url), timeout=120)
            gateway_ready = (await api.get("/readyz")).json()
    finally:
        await pool.close()

    assert (pushed["status"], pushed["processed"]) == ("succeeded", 50), pushed
    assert (synced["status"], synced["inserted"]) == ("succeeded", 300), synced
    assert gateway_ready["checks"]["kafka"] == "ok"  # the gateway's own admin client authenticated too


@pytest.mark.parametrize("service", ["status-recorder", "gateway"])
async def test_a_wrong_password_exits_at_once_with_one_line(
    secured: tuple[OwnKafka, Settings], service: str
) -> None:
    kafka, settings = secured
    env = service_env(settings) | kafka.client_env(password="not-the-password")
    started = asyncio.get_running_loop().time()
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "services", service],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    elapsed = asyncio.get_running_loop().time() - started

    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output
    refusals = [line for line in result.stderr.splitlines() if "refusing to start" in line]
    assert refusals == [
        f"activator {service}: refusing to start: Kafka at {kafka.bootstrap} refused the credentials "
        "of KAFKA_SASL_USERNAME (SaslAuthenticationFailed)"
    ]
    assert "not-the-password" not in output
    assert elapsed < 60  # no retrying a refusal
