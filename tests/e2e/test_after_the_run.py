"""What happens after a run ended, through the real processes, without a person: items a platform
refused with 503 are pushed again by an automatic retry once it recovers, each created once; LiveRamp
segments still in review, and Trade Desk data rates still awaiting approval, when their run ended become
active once the review poller sees the platform finish, without another push (a Trade Desk rate batch also
when the push-worker that sent it is gone: its BatchId is in the ledger).

The system asks again quickly (a 1 s first retry delay and review delay; the defaults are minutes), has a
quick platform backoff, and a database and topic prefix of its own (its gateway's retry loop and its
workers' review poller must not take the shared system's work).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest

from tests.e2e.conftest import System, running_system
from tests.e2e.helpers import (
    add_topics,
    connection_body,
    create_connection,
    org_client,
    push_new_topics,
    start_push,
    wait_for_run,
)
from tests.support.infra import isolated_settings, own_database_pool, required_env
from tests.support.processes import WORKER_READY

pytestmark = pytest.mark.e2e

ATTEMPTS = 3
TOPICS = 12
FAILING = 4  # items whose every attempt the mock answers 503
QUICK_FOLLOW_UP = {
    "REQUEST_ATTEMPTS": str(ATTEMPTS),
    "REQUEST_BACKOFF_BASE_S": "0.05",
    "AUTO_RETRY_FIRST_DELAY_S": "1",
    "AUTO_RETRY_POLL_INTERVAL_S": "0.5",
    "AUTO_RETRY_HORIZON_S": "600",
    "REVIEW_FIRST_DELAY_S": "1",
    "REVIEW_POLL_INTERVAL_S": "0.5",
}


@dataclass
class RetryWorld:
    system: System
    pool: asyncpg.Pool[Any]


@pytest.fixture(scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RetryWorld]:
    async with own_database_pool(max_size=4) as (database_url, pool):
        settings = isolated_settings(
            database_url, required_env("KAFKA_BOOTSTRAP_SERVERS"), f"ar{secrets.token_hex(3)}.activator"
        )
        async with running_system(settings, tmp_path_factory.mktemp("auto-retry"), QUICK_FOLLOW_UP) as system:
            yield RetryWorld(system, pool)


async def _retry_child(api: httpx.AsyncClient, run_id: str, timeout_s: float = 60) -> dict[str, Any]:
    """The automatic retry run of `run_id`, once it exists (listed by parentRunId)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        page = (await api.get("/api/runs", params={"parentRunId": run_id})).json()
        if page["items"]:
            [child] = page["items"]
            return dict(child)
        await asyncio.sleep(0.25)
    msg = f"no automatic retry of {run_id} within {timeout_s}s"
    raise TimeoutError(msg)


async def test_items_refused_with_503_are_created_by_an_automatic_retry(world: RetryWorld) -> None:
    system = world.system
    async with (
        await org_client(world.pool, system.gateway_url) as api,
        httpx.AsyncClient(base_url=system.mock_url, timeout=30) as mock,
    ):
        await mock.post("/admin/reset")
        connection_id = await create_connection(
            api, connection_body("custom_api", system.mock_url, system.mock_sftp_port, max_concurrency=1)
        )
        await add_topics(api, TOPICS)
        # One request at a time: the first FAILING items get every attempt refused, the rest go through.
        await mock.put("/admin/faults/custom_api", json={"status": 503, "count": FAILING * ATTEMPTS})
        run_id = await start_push(api, connection_id)
        first = await wait_for_run(api, connection_id, run_id)
        assert (first["status"], first["succeeded"], first["failed"]) == (
            "partial",
            TOPICS - FAILING,
            FAILING,
        )
        assert first["nextRetryAt"] is not None, first

        child = await _retry_child(api, run_id)
        healed = await wait_for_run(api, connection_id, child["runId"])
        parent_after = (await api.get(f"/api/runs/{run_id}")).json()
        stats = (await mock.get("/admin/stats/custom_api")).json()

    assert (healed["status"], healed["succeeded"], healed["total"]) == ("succeeded", FAILING, FAILING), healed
    assert healed["retryAttempt"] == 1
    assert healed["nextRetryAt"] is None  # nothing left to retry
    assert parent_after["nextRetryAt"] is None  # the child took the chain over
    assert stats["segments"] == len(stats["creates_by_key"]) == TOPICS  # every topic created, once


async def _ledger(api: httpx.AsyncClient, connection_id: str, **params: Any) -> list[dict[str, Any]]:
    page = (await api.get(f"/api/connections/{connection_id}/activations", params=params)).json()
    return list(page["items"])


async def test_segments_in_review_become_active_when_the_review_ends_after_the_run(world: RetryWorld) -> None:
    system = world.system
    async with (
        await org_client(world.pool, system.gateway_url) as api,
        httpx.AsyncClient(base_url=system.mock_url, timeout=30) as mock,
    ):
        await mock.post("/admin/reset")
        # LiveRamp's privacy review outlasts the run (1-2 business days there; 6 s here).
        await mock.put("/admin/settings/liveramp", json={"review_delay_s": 6})
        connection_id, run_id = await push_new_topics(
            api, system.mock_url, system.mock_sftp_port, 5, platform="liveramp", prefix="review"
        )
        run = await wait_for_run(api, connection_id, run_id)
        in_review = await _ledger(api, connection_id, state="pending")
        assert await _ledger(api, connection_id, state="active") == []

        for _ in range(120):  # a minute at most
            if not await _ledger(api, connection_id, state="pending"):
                break
            await asyncio.sleep(0.5)
        reviewed = await _ledger(api, connection_id)
        run_after = (await api.get(f"/api/connections/{connection_id}/push/run/{run_id}/status")).json()

    assert (run["status"], run["succeeded"]) == ("succeeded", 5)
    assert len(in_review) == 5  # the run ended with every segment still in review
    assert run["pendingReview"] == 5
    assert run_after["pendingReview"] == 0
    assert [item["state"] for item in reviewed] == ["active"] * 5
    assert {item["platformSegmentId"] for item in reviewed} == {
        item["platformSegmentId"] for item in in_review
    }


async def test_trade_desk_rates_awaiting_approval_become_active_after_the_run(world: RetryWorld) -> None:
    system = world.system
    async with (
        await org_client(world.pool, system.gateway_url) as api,
        httpx.AsyncClient(base_url=system.mock_url, timeout=30) as mock,
    ):
        await mock.post("/admin/reset")
        # A CPM under $5 waits for TTD's approval; here 10 s after processing, the run waiting 1 s at most.
        await mock.put("/admin/settings/tradedesk", json={"processing_delay_s": 0.2, "approval_delay_s": 10})
        connection_id = await create_connection(
            api, connection_body("tradedesk", system.mock_url, system.mock_sftp_port, confirm_timeout_s=1)
        )
        await add_topics(api, 5, prefix="approval")
        run_id = await start_push(api, connection_id)
        run = await wait_for_run(api, connection_id, run_id)
        awaiting = await _ledger(api, connection_id, state="pending")
        written = (await mock.get("/admin/stats/tradedesk")).json()["writes"]

        for _ in range(120):  # a minute at most
            if not await _ledger(api, connection_id, state="pending"):
                break
            await asyncio.sleep(0.5)
        approved = await _ledger(api, connection_id)
        run_after = (await api.get(f"/api/connections/{connection_id}/push/run/{run_id}/status")).json()
        runs = (await api.get("/api/runs", params={"connectionId": connection_id})).json()["items"]
        stats = (await mock.get("/admin/stats/tradedesk")).json()

    assert (run["status"], run["succeeded"]) == ("succeeded", 5)
    assert len(awaiting) == 5  # the run ended with every rate still awaiting approval
    assert run["pendingReview"] == 5
    assert run_after["pendingReview"] == 0
    assert [item["state"] for item in approved] == ["active"] * 5
    assert [item["runId"] for item in runs] == [run_id]  # no other push did it
    assert stats["writes"] == written  # nothing written again: only the batches' status was read


async def test_trade_desk_rates_sent_before_a_restart_are_reviewed_by_the_new_worker_process(
    world: RetryWorld,
) -> None:
    system = world.system
    worker = system.services["push-worker"]
    async with (
        await org_client(world.pool, system.gateway_url) as api,
        httpx.AsyncClient(base_url=system.mock_url, timeout=30) as mock,
    ):
        await mock.post("/admin/reset")
        # Approval well after the run's end (it waits 1 s at most): the worker that sent the batch is gone by then.
        await mock.put("/admin/settings/tradedesk", json={"processing_delay_s": 0.2, "approval_delay_s": 20})
        connection_id = await create_connection(
            api, connection_body("tradedesk", system.mock_url, system.mock_sftp_port, confirm_timeout_s=1)
        )
        await add_topics(api, 3, prefix="restart")
        run_id = await start_push(api, connection_id)
        run = await wait_for_run(api, connection_id, run_id)
        awaiting = await _ledger(api, connection_id, state="pending")
        written = (await mock.get("/admin/stats/tradedesk")).json()["writes"]

        worker.stop()  # a restart: the new process holds nothing of the batches the old one sent
        log_end = worker.log_path.stat().st_size
        worker.start()
        await worker.wait_for_log(WORKER_READY, after=log_end)
        for _ in range(180):  # 90 s at most
            if not await _ledger(api, connection_id, state="pending"):
                break
            await asyncio.sleep(0.5)
        approved = await _ledger(api, connection_id)
        runs = (await api.get("/api/runs", params={"connectionId": connection_id})).json()["items"]
        stats = (await mock.get("/admin/stats/tradedesk")).json()

    assert (run["status"], run["succeeded"]) == ("succeeded", 3)
    assert len(awaiting) == 3  # the run ended with every rate still awaiting approval
    assert [item["state"] for item in approved] == ["active"] * 3
    assert [item["runId"] for item in runs] == [run_id]  # no other push did it
    assert stats["writes"] == written  # nothing written again: only the batch's status was read
