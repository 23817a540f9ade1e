"""A client written from the seed guide alone, against the real processes.

`GuideClient` uses only what the guide shows: its endpoint table, its ConnectionInput and
InboundConfig shapes and field names, run starts without a body, and its client-driven loops
("Loop: POST .../run/{runId}/page", "Push next batch"). Where the guide is silent (when a loop
ends), it does what a client developer would write: read the answer's `done`.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from services.mock_platforms.dmp_records import generate_records
from shared.db.orgs import create_org
from tests.e2e.conftest import System

RECORDS = 250
PAGE_SIZE = 100
API_KEY = "guide-client-platform-key-0042"


class GuideClient:
    """The guide's API reference as a client: one method per row of its endpoint table."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def _call(self, method: str, path: str, expected: int, body: object = None) -> Any:
        response = await self._http.request(method, path, json=body)
        assert response.status_code == expected, f"{method} {path}: {response.status_code} {response.text}"
        return response.json() if response.content else None

    async def create_connection(self, connection_input: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("POST", "/api/connections", 201, connection_input)
        return result

    async def test_connection(self, connection_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("POST", f"/api/connections/{connection_id}/test", 200)
        return result

    async def run_to_end(self, connection_id: str, kind: str) -> tuple[dict[str, Any], dict[str, Any], int]:
        """Start a run without a body, loop on next page/batch until done, then poll the status once."""
        started = await self._call("POST", f"/api/connections/{connection_id}/{kind}/run", 202)
        run_url = f"/api/connections/{connection_id}/{kind}/run/{started['runId']}"
        step = "page" if kind == "sync" else "push"
        calls = 0
        while True:
            calls += 1
            assert calls <= 50, f"the {kind} loop did not end after {calls} calls"
            answer = await self._call("POST", f"{run_url}/{step}", 200)
            if answer["done"]:
                break
        return started, await self._call("GET", f"{run_url}/status", 200), calls


@pytest.fixture
async def guide(system: System, pool: asyncpg.Pool[Any]) -> AsyncIterator[GuideClient]:
    """A fresh org's guide client; the mock DMP and REST platform accept only the org's key meanwhile."""
    _org, key = await create_org(pool, f"guide-{uuid.uuid4().hex[:6]}")
    async with (
        httpx.AsyncClient(base_url=system.mock_url) as mock,
        httpx.AsyncClient(
            base_url=system.gateway_url, headers={"Authorization": f"Bearer {key}"}, timeout=60
        ) as http,
    ):
        await mock.post("/admin/reset")
        response = await mock.put("/admin/dmp/records", json={"records": generate_records(RECORDS, seed=7)})
        assert response.status_code == 200, response.text
        for platform in ("dmp", "custom_api"):
            response = await mock.post(
                "/admin/tenants", json={"platform": platform, "credentials": {"api_key": API_KEY}}
            )
            assert response.status_code == 201, response.text
        try:
            yield GuideClient(http)
        finally:
            for platform in ("dmp", "custom_api"):
                await mock.delete(f"/admin/tenants/{platform}")
            await mock.post("/admin/reset")


def inbound_input(mock_url: str) -> dict[str, Any]:
    """The guide's ConnectionInput with its InboundConfig, every field as the guide lists it."""
    listing = f"{mock_url}/dmp/api/v1/segments"
    return {
        "name": "DMP taxonomy",
        "platform": "custom_api",
        "direction": "inbound",
        "authType": "bearer",
        "authCredentials": {"api_key": API_KEY},
        "config": {
            "base_url": listing,
            "response_path": "$.data.items",
            "count_endpoint": f"{listing}/count",
            "count_response_path": "$.meta[0].total",
            "pagination_type": "offset",
            "pagination_params": {"offset_param": "offset", "limit_param": "limit", "page_size": PAGE_SIZE},
            "field_mappings": [
                {"source": "segment_name", "target": "topic_name"},
                {"source": "category.name", "target": "parent_category"},
                {"source": "segment_id", "target": "external_id"},
            ],
            "filters": {},
            "extra_headers": {},
            "sync_mode": "full",
            "incremental_field": "updated_at",
            "source_id_field": "segment_id",
        },
    }


def outbound_input(mock_url: str) -> dict[str, Any]:
    """The guide's CustomOutboundConfig: api_base_url, default_cpm, currency."""
    return {
        "name": "Acme DSP",
        "platform": "custom_api",
        "direction": "outbound",
        "authType": "bearer",
        "authCredentials": {"api_key": API_KEY},
        "config": {"api_base_url": f"{mock_url}/custom", "default_cpm": 2.0, "currency": "USD"},
    }


async def test_a_guide_written_client_syncs_a_taxonomy_in_and_pushes_it_out(
    guide: GuideClient, system: System
) -> None:
    inbound = await guide.create_connection(inbound_input(system.mock_url))
    inbound_test = await guide.test_connection(inbound["id"])
    accepted, synced, sync_calls = await guide.run_to_end(inbound["id"], "sync")

    outbound = await guide.create_connection(outbound_input(system.mock_url))
    outbound_test = await guide.test_connection(outbound["id"])
    push_started, pushed, push_calls = await guide.run_to_end(outbound["id"], "push")
    async with httpx.AsyncClient(base_url=system.mock_url) as mock:
        segments = (await mock.get("/admin/segments/custom_api")).json()["segments"]

    assert (inbound_test["success"], inbound_test.get("error")) == (True, None)
    assert accepted["countStatus"] in {"counted", "pending"}
    if accepted["countStatus"] == "counted":
        assert accepted["total"] == RECORDS
    assert (synced["status"], synced["inserted"], synced["pages"]) == ("succeeded", RECORDS, 3)
    assert sync_calls <= 4  # the loop follows the worker's pages; it neither spins nor stalls
    assert (outbound_test["success"], outbound_test.get("error")) == (True, None)
    assert (push_started["total"], pushed["status"], pushed["succeeded"]) == (RECORDS, "succeeded", RECORDS)
    assert push_calls <= RECORDS // 25 + 1
    assert len(segments) == RECORDS
    assert {segment["price"] for segment in segments} == {2.0}  # default_cpm: no cpm was mapped
    assert {segment["name"] for segment in segments} == {
        record["segment_name"] for record in generate_records(RECORDS, seed=7)
    }


async def test_a_bidirectional_connection_is_tested_in_both_directions(
    guide: GuideClient, system: System
) -> None:
    body = inbound_input(system.mock_url)
    body["direction"] = "bidirectional"
    body["config"] |= outbound_input(system.mock_url)["config"]
    both = await guide.create_connection(body)
    healthy = await guide.test_connection(both["id"])
    async with httpx.AsyncClient(base_url=system.mock_url) as mock:
        await mock.put("/admin/faults/dmp", json={"status": 503})
        try:
            half = await guide.test_connection(both["id"])
        finally:
            await mock.delete("/admin/faults/dmp")

    assert healthy["success"] is True
    assert [(check["direction"], check["success"]) for check in healthy["checks"]] == [
        ("outbound", True),
        ("inbound", True),
    ]
    assert half["success"] is False
    assert [(check["direction"], check["success"]) for check in half["checks"]] == [
        ("outbound", True),
        ("inbound", False),
    ]
    assert half["error"].startswith("inbound: HTTP 503")
