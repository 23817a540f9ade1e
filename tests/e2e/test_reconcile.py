"""Drift reconciliation through the real processes: segments renamed, repriced, turned off or deleted on the
platform behind Activator's back are found by a reconcile run, reported per item, and repaired with
`repair: true` (except a deactivation made on the platform, which stays reported)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from tests.e2e.conftest import System
from tests.e2e.helpers import org_client, push_new_topics, wait_for_run

pytestmark = pytest.mark.e2e

TOPICS = 6


@pytest.fixture
async def mock(system: System) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=system.mock_url, timeout=30) as client:
        await client.post("/admin/reset")
        yield client


async def _reconcile(api: httpx.AsyncClient, connection_id: str, **body: Any) -> dict[str, dict[str, Any]]:
    """Run a reconcile to its end: each item by topic id."""
    started = await api.post(f"/api/connections/{connection_id}/reconcile", json=body or None)
    assert started.status_code == 202, started.text
    run_id = started.json()["runId"]
    status = await wait_for_run(api, connection_id, run_id)
    assert status["status"] == "succeeded", status
    page = (await api.get(f"/api/runs/{run_id}/items", params={"limit": 100})).json()
    return {item["topicId"]: item for item in page["items"]}


async def test_drift_on_the_platform_is_reported_then_repaired(
    system: System, pool: asyncpg.Pool[Any], mock: httpx.AsyncClient
) -> None:
    async with await org_client(pool, system.gateway_url) as api:
        connection_id, run_id = await push_new_topics(
            api, system.mock_url, system.mock_sftp_port, TOPICS, prefix="drift"
        )
        assert (await wait_for_run(api, connection_id, run_id))["succeeded"] == TOPICS
        ledger = (await api.get(f"/api/connections/{connection_id}/activations")).json()["items"]
        segment_of = {row["topicId"]: row["platformSegmentId"] for row in ledger}
        renamed, disabled, removed, repriced, *in_sync = sorted(segment_of)
        name_before = {
            s["id"]: s["name"] for s in (await mock.get("/admin/segments/custom_api")).json()["segments"]
        }

        # Someone else, on the platform.
        for topic, change in (
            (renamed, {"rename": "Renamed by hand"}),
            (disabled, {"disable": True}),
            (removed, {"remove": True}),
            (repriced, {"price": 9.75}),
        ):
            answer = await mock.post(f"/admin/drift/custom_api/{segment_of[topic]}", json=change)
            assert answer.status_code == 200, answer.text
        writes_before = (await mock.get("/admin/stats/custom_api")).json()["writes"]

        report = await _reconcile(api, connection_id)
        writes_after_report = (await mock.get("/admin/stats/custom_api")).json()["writes"]

        repaired = await _reconcile(api, connection_id, repair=True)
        held = {s["id"]: s for s in (await mock.get("/admin/segments/custom_api")).json()["segments"]}
        ledger_after = (await api.get(f"/api/connections/{connection_id}/activations")).json()["items"]

        again = await _reconcile(api, connection_id)

    # The report changes nothing on the platform and names each drift.
    assert writes_after_report == writes_before
    assert {topic: item["outcome"] for topic, item in report.items()} == dict.fromkeys(segment_of, "planned")
    assert report[renamed]["plannedAction"] == "update:renamed"
    assert report[disabled]["plannedAction"] == "unchanged:deactivated"
    assert report[removed]["plannedAction"] == "create:missing"
    assert report[repriced]["plannedAction"] == "update:price_differs"
    assert {report[topic]["plannedAction"] for topic in in_sync} == {"unchanged"}

    # The repair renames back, prices back and creates the missing one again; the deactivation is left to a person.
    assert (repaired[renamed]["outcome"], repaired[renamed]["plannedAction"]) == ("updated", "update:renamed")
    assert (repaired[removed]["outcome"], repaired[removed]["plannedAction"]) == ("created", "create:missing")
    assert (repaired[repriced]["outcome"], repaired[repriced]["plannedAction"]) == (
        "updated",
        "update:price_differs",
    )
    assert (repaired[disabled]["outcome"], repaired[disabled]["plannedAction"]) == (
        "skipped",
        "unchanged:deactivated",
    )
    assert {repaired[topic]["outcome"] for topic in in_sync} == {"skipped"}
    assert held[segment_of[renamed]]["name"] == name_before[segment_of[renamed]]
    assert held[segment_of[disabled]]["status"] == "inactive"
    assert held[segment_of[repriced]]["price"] == 1.5  # the ledger's price (the connection's default CPM)
    new_segment = {row["topicId"]: row["platformSegmentId"] for row in ledger_after}[removed]
    assert new_segment != segment_of[removed]
    assert held[new_segment]["name"] == name_before[segment_of[removed]]

    # Only the deactivation made on the platform is still drift.
    assert {
        topic: item["plannedAction"] for topic, item in again.items() if item["plannedAction"] != "unchanged"
    } == {disabled: "unchanged:deactivated"}
