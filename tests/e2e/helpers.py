"""Small clients for end-to-end tests: an org of its own, connections to the mocks, runs to completion."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import asyncpg
import httpx

from shared.db.orgs import create_org
from shared.runs.status import TERMINAL_STATUSES


async def org_client(pool: asyncpg.Pool[Any], gateway_url: str) -> httpx.AsyncClient:
    """An API client for a brand-new org."""
    _org_id, api_key = await create_org(pool, f"e2e-{uuid.uuid4().hex[:6]}")
    return httpx.AsyncClient(base_url=gateway_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=60)


def connection_body(platform: str, mock_url: str, sftp_port: int, **config: Any) -> dict[str, Any]:
    """A ConnectionInput for one of the mock platforms."""
    common = {"default_cpm": 1.5, "currency": "USD", **config}
    bodies: dict[str, dict[str, Any]] = {
        "custom_api": {
            "authType": "api_key",
            "authCredentials": {"api_key": "e2e-custom-key"},
            "config": {"api_base_url": f"{mock_url}/custom", **common},
        },
        "tradedesk": {
            "authType": "bearer",
            "authCredentials": {"api_key": "e2e-ttd-token"},
            "config": {
                "api_base_url": f"{mock_url}/ttd",
                "provider_id": "activator-e2e",
                "brand_id": "activator-e2e-brand",
                "partner_id": "e2e-partner",
                **common,
            },
        },
        "liveramp": {
            "authType": "oauth2",
            "authCredentials": {"client_id": "e2e-client", "client_secret": "e2e-lr-secret"},
            "config": {
                "api_base_url": f"{mock_url}/liveramp",
                "token_url": f"{mock_url}/liveramp/oauth2/token",
                "org_id": "lr-org-1",
                "activation_segment_id": "e2e-first-party-segment",
                "segment_type": "SYNDICATED",
                "permitted_use_cases": ["DIGITAL_AD_TARGETING"],
                **common,
            },
        },
        "indexexchange": {
            "authType": "header",
            "authCredentials": {"username": "ix-user", "password": "ix-e2e-password"},
            "config": {"sftp_host": "127.0.0.1", "sftp_port": sftp_port, "remote_dir": "/incoming", **common},
        },
    }
    return {"name": f"{platform} mock", "platform": platform, "direction": "outbound", **bodies[platform]}


async def create_connection(api: httpx.AsyncClient, body: dict[str, Any]) -> str:
    """Create a connection and return its id."""
    response = await api.post("/api/connections", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def add_topics(api: httpx.AsyncClient, count: int, prefix: str = "seg") -> list[str]:
    """Bulk-create `count` topics; returns their external ids. Their paths make a taxonomy as sources
    send them, ending with the topic itself: E2E > `<prefix> <n>` (a group of 1,000) > the topic."""
    external_ids = [f"{prefix}-{index}" for index in range(count)]
    topics = [
        {
            "name": f"Segment {eid}",
            "externalId": eid,
            "path": ["E2E", f"{prefix} {index // 1000}", f"Segment {eid}"],
        }
        for index, eid in enumerate(external_ids)
    ]
    for start in range(0, count, 5000):
        response = await api.post("/api/topics/bulk", json={"topics": topics[start : start + 5000]})
        assert response.status_code == 200, response.text
    return external_ids


def taxonomy_groups(count: int) -> int:
    """The group containers `add_topics` puts `count` topics under (besides the one E2E root)."""
    return -(-count // 1000)


async def start_push(api: httpx.AsyncClient, connection_id: str, **body: Any) -> str:
    """Start a push run and return its id."""
    response = await api.post(f"/api/connections/{connection_id}/push/run", json=body)
    assert response.status_code == 202, response.text
    return str(response.json()["runId"])


async def push_new_topics(
    api: httpx.AsyncClient,
    mock_url: str,
    sftp_port: int,
    topics: int,
    *,
    platform: str = "custom_api",
    prefix: str = "seg",
    **run: Any,
) -> tuple[str, str]:
    """A new connection to a mock platform, `topics` new topics and a push run started: (connection, run)."""
    connection_id = await create_connection(api, connection_body(platform, mock_url, sftp_port))
    await add_topics(api, topics, prefix=prefix)
    return connection_id, await start_push(api, connection_id, **run)


async def wait_for_run(
    api: httpx.AsyncClient, connection_id: str, run_id: str, kind: str = "push", timeout: float = 240
) -> dict[str, Any]:
    """Poll the status API until the run is final; returns the final status."""
    deadline = time.monotonic() + timeout
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status = (await api.get(f"/api/connections/{connection_id}/{kind}/run/{run_id}/status")).json()
        if status["status"] in TERMINAL_STATUSES:
            return status
        await asyncio.sleep(0.3)
    msg = f"run {run_id} did not finish in {timeout}s; last status {status}"
    raise TimeoutError(msg)


async def outcomes(pool: asyncpg.Pool[Any], run_id: str) -> dict[str, int]:
    """Terminal results of a run's items, counted by outcome (from Postgres)."""
    rows = await pool.fetch(
        "SELECT outcome, count(*) AS n FROM run_items WHERE run_id = $1 GROUP BY outcome", uuid.UUID(run_id)
    )
    return {row["outcome"]: row["n"] for row in rows}
