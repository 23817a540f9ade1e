"""With tracing on, one trace runs from the HTTP request through Kafka to the platform calls."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from shared.db.pool import create_pool
from shared.settings import Settings
from tests.e2e.conftest import System, running_system
from tests.e2e.helpers import org_client, push_new_topics, wait_for_run
from tests.support.infra import own_database

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
async def traced_database() -> AsyncIterator[str]:
    """A database of its own: run work is claimed from Postgres, so the shared system's untraced workers
    on the session database would otherwise take this system's runs."""
    async with own_database() as database_url:
        yield database_url


@pytest.fixture(scope="module")
async def traced_pool(traced_database: str) -> AsyncIterator[asyncpg.Pool[Any]]:
    pool = await create_pool(traced_database, max_size=2)
    yield pool
    await pool.close()


@pytest.fixture(scope="module")
async def traced_system(
    settings: Settings, traced_database: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[System]:
    # Its own topic prefix and database: nothing of the shared system's reaches its workers.
    traced = settings.model_copy(
        update={"kafka_topic_prefix": f"tr{secrets.token_hex(3)}.activator", "database_url": traced_database}
    )
    log_dir = tmp_path_factory.mktemp("traced")
    async with running_system(traced, log_dir, {"OTEL_TRACES_EXPORTER": "console"}) as started:
        yield started


def spans(log: Path) -> list[dict[str, Any]]:
    """The spans the `console` exporter wrote into a service's log (one JSON line each)."""
    lines = log.read_text(errors="replace").splitlines()
    return [json.loads(line) for line in lines if line.startswith('{"otel_span"')]


async def test_one_trace_spans_gateway_worker_and_platform_calls(
    traced_system: System, traced_pool: asyncpg.Pool[Any]
) -> None:
    async with await org_client(traced_pool, traced_system.gateway_url) as api:
        connection_id, run_id = await push_new_topics(
            api, traced_system.mock_url, traced_system.mock_sftp_port, 5
        )
        await wait_for_run(api, connection_id, run_id)
    for name in ("gateway", "push-worker", "status-recorder"):
        traced_system.services[name].stop()  # flushes the batch span processors

    gateway = [
        span for span in spans(traced_system.log_dir / "gateway.log") if "push/run" in span["otel_span"]
    ]
    assert gateway, "the gateway traced no push request"
    trace_id = gateway[0]["trace_id"]
    worker = [
        span for span in spans(traced_system.log_dir / "push-worker.log") if span["trace_id"] == trace_id
    ]
    names = {span["otel_span"] for span in worker}
    assert any("push.commands" in name for name in names), names  # consuming the command
    assert (
        sum(1 for span in worker if span["otel_span"] == "custom_api POST") == 5
    )  # one span per platform create
    recorder = spans(traced_system.log_dir / "status-recorder.log")
    assert any(span["otel_span"] == "record status events" for span in recorder)
    # The recorder consumes in batches: its spans link to the traces of the events in the batch.
    assert any(trace_id in span["links"] for span in recorder)
