"""One thin request the whole way: gateway → outbox → Kafka → push-worker → platform → status → recorder → API."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from shared.db.orgs import create_org
from tests.e2e.conftest import System
from tests.e2e.helpers import wait_for_run

pytestmark = pytest.mark.e2e


async def test_thousand_topics_reach_the_platform_once_each(system: System, pool: asyncpg.Pool[Any]) -> None:
    _org_id, api_key = await create_org(pool, "skeleton")
    async with (
        httpx.AsyncClient(base_url=system.gateway_url, headers={"Authorization": f"Bearer {api_key}"}) as api,
        httpx.AsyncClient(base_url=system.mock_url) as mock,
    ):
        await mock.post("/admin/reset")
        connection = await api.post(
            "/api/connections",
            json={
                "name": "mock custom api",
                "platform": "custom_api",
                "direction": "outbound",
                "authType": "api_key",
                "authCredentials": {"api_key": "e2e-key-1"},
                "config": {
                    "api_base_url": f"{system.mock_url}/custom",
                    "default_cpm": 1.5,
                    "currency": "USD",
                },
            },
        )
        assert connection.status_code == 201, connection.text
        connection_id = connection.json()["id"]
        topics = [
            {"name": f"Segment {index}", "externalId": f"seg-{index}", "path": ["Auto", f"Segment {index}"]}
            for index in range(1000)
        ]
        bulk = await api.post("/api/topics/bulk", json={"topics": topics}, timeout=60)
        assert bulk.json() == {"created": 1000, "updated": 0}

        started = await api.post(f"/api/connections/{connection_id}/push/run", json={})
        assert started.status_code == 202
        assert started.json()["total"] == 1000
        status = await wait_for_run(api, connection_id, started.json()["runId"])

        assert status["status"] == "succeeded", status
        assert (status["processed"], status["succeeded"], status["failed"]) == (1000, 1000, 0)
        outcomes = await pool.fetch(
            "SELECT outcome, count(*) AS n FROM run_items WHERE run_id = $1 GROUP BY outcome",
            uuid.UUID(started.json()["runId"]),
        )
        assert {row["outcome"]: row["n"] for row in outcomes} == {"created": 1000}
        stats = (await mock.get("/admin/stats/custom_api")).json()
        assert stats["segments"] == 1000
        assert len(stats["creates_by_key"]) == 1000

        again = await api.post(f"/api/connections/{connection_id}/push/run", json={})
        second = await wait_for_run(api, connection_id, again.json()["runId"])
        assert (second["status"], second["skipped"], second["succeeded"]) == ("succeeded", 1000, 0)
        assert (await mock.get("/admin/stats/custom_api")).json()["segments"] == 1000
