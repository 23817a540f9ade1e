"""Outbound activation end to end: ledger diffing, dry run, failures, retry, throttling, step mode."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from tests.e2e.conftest import System
from tests.e2e.helpers import (
    add_topics,
    connection_body,
    create_connection,
    org_client,
    outcomes,
    start_push,
    wait_for_run,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
async def mock(system: System) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=system.mock_url, timeout=30) as client:
        await client.post("/admin/reset")
        yield client


async def _custom_connection(system: System, api: httpx.AsyncClient, **config: Any) -> str:
    return await create_connection(
        api, connection_body("custom_api", system.mock_url, system.mock_sftp_port, **config)
    )


async def test_only_changed_topics_are_updated_and_deleted_ones_deactivated(
    system: System, pool: asyncpg.Pool[Any], mock: httpx.AsyncClient
) -> None:
    async with await org_client(pool, system.gateway_url) as api:
        connection_id = await _custom_connection(system, api)
        await add_topics(api, 200)
        first = await wait_for_run(api, connection_id, await start_push(api, connection_id))
        assert (first["status"], first["succeeded"]) == ("succeeded", 200)

        page = (await api.get("/api/topics", params={"limit": 11})).json()["items"]
        for topic in page[:10]:
            update = {
                "name": topic["name"] + " (renamed)",
                "externalId": topic["externalId"],
                "path": topic["path"],
            }
            assert (await api.put(f"/api/topics/{topic['id']}", json=update)).status_code == 200
        assert (await api.delete(f"/api/topics/{page[10]['id']}")).status_code == 204

        run_id = await start_push(api, connection_id)
        second = await wait_for_run(api, connection_id, run_id)
        assert second["status"] == "succeeded"
        assert await outcomes(pool, run_id) == {"updated": 10, "skipped": 189, "deactivated": 1}
        held = {
            segment["name"]: segment
            for segment in (await mock.get("/admin/segments/custom_api")).json()["segments"]
        }
        assert sum(1 for name in held if name.endswith("(renamed)")) == 10
        assert held[page[10]["name"]]["status"] == "inactive"

        activations = (
            await api.get(f"/api/connections/{connection_id}/activations", params={"limit": 1000})
        ).json()
        states = [item["state"] for item in activations["items"]]
        assert (states.count("active"), states.count("inactive")) == (199, 1)


async def test_dry_run_plans_without_writing(
    system: System, pool: asyncpg.Pool[Any], mock: httpx.AsyncClient
) -> None:
    async with await org_client(pool, system.gateway_url) as api:
        connection_id = await _custom_connection(system, api)
        await add_topics(api, 60)
        run_id = await start_push(api, connection_id, dryRun=True)
        status = await wait_for_run(api, connection_id, run_id)
        stats = (await mock.get("/admin/stats/custom_api")).json()
        plan = await pool.fetch(
            "SELECT planned_action, segment_name FROM run_items WHERE run_id = $1::uuid", run_id
        )
    assert status["status"] == "succeeded"
    assert status["processed"] == 60
    assert stats["writes"] == 0
    assert {row["planned_action"] for row in plan} == {"create"}
    assert all(row["segment_name"].startswith("Segment seg-") for row in plan)


async def test_a_rejected_topic_fails_alone_and_retry_attempts_only_it(
    system: System, pool: asyncpg.Pool[Any], mock: httpx.AsyncClient
) -> None:
    async with await org_client(pool, system.gateway_url) as api:
        connection_id = await _custom_connection(system, api)
        await add_topics(api, 100)
        await mock.put("/admin/faults/custom_api", json={"reject_names": ["Segment seg-42"]})
        run_id = await start_push(api, connection_id)
        status = await wait_for_run(api, connection_id, run_id)
        assert (status["status"], status["succeeded"], status["failed"]) == ("partial", 99, 1)
        assert status["errorCount"] == 1
        assert status["errors"][0]["code"].startswith("permanent")
        assert status["errors"][0]["message"]

        await mock.delete("/admin/faults/custom_api")
        writes_before = (await mock.get("/admin/stats/custom_api")).json()["writes"]
        retry = await api.post(f"/api/connections/{connection_id}/push/run/{run_id}/retry")
        assert retry.status_code == 202, retry.text
        assert retry.json()["total"] == 1
        child = await wait_for_run(api, connection_id, retry.json()["runId"])
        assert (child["status"], child["succeeded"], child["parentRunId"]) == ("succeeded", 1, run_id)
        assert (await mock.get("/admin/stats/custom_api")).json()["writes"] == writes_before + 1


async def test_rate_limited_platform_pauses_and_the_run_completes(
    system: System, pool: asyncpg.Pool[Any], mock: httpx.AsyncClient
) -> None:
    async with await org_client(pool, system.gateway_url) as api:
        connection_id = await _custom_connection(system, api)
        await add_topics(api, 100)
        await mock.put("/admin/faults/custom_api", json={"status": 429, "retry_after": 2, "count": 6})
        run_id = await start_push(api, connection_id)
        seen_throttled = None
        for _ in range(100):
            status = (await api.get(f"/api/connections/{connection_id}/push/run/{run_id}/status")).json()
            seen_throttled = seen_throttled or status["throttledUntil"]
            if status["status"] in {"succeeded", "partial", "failed"}:
                break
            await asyncio.sleep(0.1)
        final = await wait_for_run(api, connection_id, run_id)
    assert seen_throttled is not None
    assert (final["status"], final["succeeded"], final["failed"]) == ("succeeded", 100, 0)
    assert final["throttledUntil"] is None


async def test_refused_credentials_stop_the_run_early(
    system: System, pool: asyncpg.Pool[Any], mock: httpx.AsyncClient
) -> None:
    async with await org_client(pool, system.gateway_url) as api:
        await mock.post(
            "/admin/tenants", json={"platform": "custom_api", "credentials": {"api_key": "the-real-key"}}
        )
        connection_id = await _custom_connection(system, api)
        await add_topics(api, 300)
        run_id = await start_push(api, connection_id)
        status = await wait_for_run(api, connection_id, run_id)
        requests = (await mock.get("/admin/stats/custom_api")).json()["requests"]
    assert status["status"] == "failed"
    assert "credentials" in (status["statusReason"] or "")
    assert (status["processed"], status["failed"]) == (300, 300)
    assert requests <= 50  # one batch's worth at most, not 3 attempts x 300 topics


async def test_step_mode_advances_one_batch_per_call(
    system: System, pool: asyncpg.Pool[Any], mock: httpx.AsyncClient
) -> None:
    async with await org_client(pool, system.gateway_url) as api:
        connection_id = await _custom_connection(system, api)
        await add_topics(api, 60)
        run_id = await start_push(api, connection_id, mode="step")
        assert (await api.get(f"/api/connections/{connection_id}/push/run/{run_id}/status")).json()[
            "status"
        ] == "queued"
        processed = []
        for _ in range(3):
            step = await api.post(f"/api/connections/{connection_id}/push/run/{run_id}/push")
            assert step.status_code == 200, step.text
            processed.append(step.json()["processed"])
        final = await wait_for_run(api, connection_id, run_id)
        segments = (await mock.get("/admin/stats/custom_api")).json()["segments"]
    assert processed == [25, 50, 60]
    assert (final["status"], final["succeeded"]) == ("succeeded", 60)
    assert segments == 60


async def test_trade_desk_segments_stay_pending_until_their_rates_are_processed(
    system: System, pool: asyncpg.Pool[Any], mock: httpx.AsyncClient
) -> None:
    async with await org_client(pool, system.gateway_url) as api:
        await mock.put("/admin/settings/tradedesk", json={"processing_delay_s": 0.5})
        waits = await create_connection(
            api, connection_body("tradedesk", system.mock_url, system.mock_sftp_port, confirm_timeout_s=30)
        )
        await add_topics(api, 30)
        run = await wait_for_run(api, waits, await start_push(api, waits))
        confirmed = (await api.get(f"/api/connections/{waits}/activations")).json()["items"]

        await mock.put("/admin/settings/tradedesk", json={"processing_delay_s": 60})
        impatient = await create_connection(
            api, connection_body("tradedesk", system.mock_url, system.mock_sftp_port, confirm_timeout_s=0)
        )
        await wait_for_run(api, impatient, await start_push(api, impatient))
        unconfirmed = (await api.get(f"/api/connections/{impatient}/activations")).json()["items"]
    assert (run["status"], run["succeeded"]) == ("succeeded", 30)
    assert [item["state"] for item in confirmed] == ["active"] * 30
    assert [item["state"] for item in unconfirmed] == ["pending"] * 30
    assert all("still being processed" in item["stateMessage"] for item in unconfirmed)


async def test_a_push_names_segments_by_template_with_the_connections_currency(
    system: System, pool: asyncpg.Pool[Any], mock: httpx.AsyncClient
) -> None:
    async with await org_client(pool, system.gateway_url) as api:
        template = {"key": "priced", "nameTemplate": "{{topic_name}} @ {{cpm}}", "descriptionTemplate": "x"}
        assert (await api.post("/api/output-templates", json=template)).status_code == 201
        topic = {"name": "Premium", "externalId": "priced-1", "cpm": 150}
        stored = (await api.post("/api/topics", json=topic)).json()
        assert stored["outputs"]["priced"]["name"] == "Premium @ 150.00"  # kept names: USD
        connection_id = await _custom_connection(system, api, currency="JPY", output_template_key="priced")
        run = await wait_for_run(api, connection_id, await start_push(api, connection_id))
        assert run["status"] == "succeeded", run
        names = [
            segment["name"] for segment in (await mock.get("/admin/segments/custom_api")).json()["segments"]
        ]
        assert names == ["Premium @ 150"]  # yen have no minor units
