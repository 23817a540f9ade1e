"""Every service exposes the Prometheus metrics operators scale and alert on."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest

from services.gateway.consumer_lag import measure_lag
from shared.settings import Settings
from tests.e2e.conftest import System
from tests.e2e.helpers import org_client, push_new_topics, wait_for_run
from tests.support.metrics import prometheus_sample

pytestmark = pytest.mark.e2e


async def test_a_push_run_shows_in_the_worker_recorder_and_gateway_metrics(
    system: System, pool: asyncpg.Pool[Any], settings: Settings
) -> None:
    async with httpx.AsyncClient(timeout=10) as scrape:
        before = (await scrape.get(system.metrics_urls["push-worker"])).text
        async with await org_client(pool, system.gateway_url) as api:
            await wait_for_run(api, *await push_new_topics(api, system.mock_url, system.mock_sftp_port, 40))
        worker = (await scrape.get(system.metrics_urls["push-worker"])).text
        recorder = (await scrape.get(system.metrics_urls["status-recorder"])).text
        gateway = (await scrape.get(system.metrics_urls["gateway"])).text

    created = prometheus_sample(
        worker, "activator_items_pushed_total", platform="custom_api", outcome="created"
    )
    assert (
        created
        - prometheus_sample(before, "activator_items_pushed_total", platform="custom_api", outcome="created")
        == 40
    )
    assert (
        prometheus_sample(
            worker, "activator_platform_request_seconds_count", platform="custom_api", status_class="2xx"
        )
        >= 40
    )
    assert (
        prometheus_sample(recorder, "activator_run_duration_seconds_count", kind="push", status="succeeded")
        >= 1
    )
    assert prometheus_sample(gateway, "activator_runs_started_total", kind="push") >= 1
    assert "activator_outbox_lag" in gateway
    lags = await measure_lag(settings)
    assert set(lags) == {
        f"{settings.kafka_topic_prefix}-push-worker",
        f"{settings.kafka_topic_prefix}-sync-worker",
        f"{settings.kafka_topic_prefix}-status-recorder",
        f"{settings.kafka_topic_prefix}-intake",
    }
    assert all(lag >= 0 for lag in lags.values())
