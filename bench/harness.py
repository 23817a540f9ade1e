"""What every scenario shares: medians, run timing read from Postgres, an org's API client, the mock's admin."""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx

from shared.db.orgs import create_org
from shared.runs.status import TERMINAL_STATUSES


class ScenarioFailed(RuntimeError):
    """A scenario could not complete (a run failed, timed out, or lost items): the bench exits non-zero."""


def median(values: Sequence[float]) -> float:
    """The median of the repetitions (0 when there were none)."""
    return float(statistics.median(values)) if values else 0.0


def rate(count: int, seconds: float) -> float:
    """Items per second, rounded for the report."""
    return round(count / seconds, 1) if seconds > 0 else 0.0


def ratio(numerator: float, denominator: float) -> float:
    """A ratio of two figures of the same run, rounded for the report."""
    return round(numerator / denominator, 3) if denominator > 0 else 0.0


@dataclass(frozen=True, slots=True)
class Org:
    org_id: uuid.UUID
    api: httpx.AsyncClient


async def new_org(pool: asyncpg.Pool[Any], gateway_url: str) -> Org:
    """A new org of the bench's database, with an API client (close it with `org.api.aclose()`)."""
    org_id, api_key = await create_org(pool, f"bench-{uuid.uuid4().hex[:8]}")
    api = httpx.AsyncClient(base_url=gateway_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=120)
    return Org(org_id, api)


async def add_topics(pool: asyncpg.Pool[Any], org: Org, count: int, prefix: str) -> list[str]:
    """Bulk-create `count` topics through the API; returns their ids in creation order."""
    for start in range(0, count, 5_000):
        topics = [
            {
                "name": f"Bench {prefix} {index}",
                "externalId": f"{prefix}-{index:07d}",
                "path": ["Bench", prefix],
            }
            for index in range(start, min(count, start + 5_000))
        ]
        response = await org.api.post("/api/topics/bulk", json={"topics": topics})
        if response.status_code != 200:
            raise ScenarioFailed(f"bulk topics: {response.status_code} {response.text[:200]}")
    rows = await pool.fetch(
        "SELECT id FROM topics WHERE org_id = $1 AND external_id LIKE $2 ORDER BY external_id",
        org.org_id,
        f"{prefix}-%",
    )
    return [str(row["id"]) for row in rows]


async def create_connection(api: httpx.AsyncClient, body: dict[str, Any]) -> str:
    """Create a connection; returns its id."""
    response = await api.post("/api/connections", json=body)
    if response.status_code != 201:
        raise ScenarioFailed(f"create connection: {response.status_code} {response.text[:200]}")
    return str(response.json()["id"])


def custom_api_connection(mock_url: str, *, max_concurrency: int, name: str) -> dict[str, Any]:
    """An outbound connection to the mock Custom API."""
    return {
        "name": name,
        "platform": "custom_api",
        "direction": "outbound",
        "authType": "api_key",
        "authCredentials": {"api_key": "bench-custom-key"},
        "config": {
            "api_base_url": f"{mock_url}/custom",
            "default_cpm": 1.5,
            "currency": "USD",
            "max_concurrency": max_concurrency,
        },
    }


async def new_custom_api_connection(
    api: httpx.AsyncClient, mock_url: str, *, max_concurrency: int, name: str
) -> str:
    """Create an outbound connection to the mock Custom API; returns its id."""
    return await create_connection(
        api, custom_api_connection(mock_url, max_concurrency=max_concurrency, name=name)
    )


async def start_run(api: httpx.AsyncClient, connection_id: str, kind: str, **body: Any) -> str:
    """Start a push or sync run; returns its id."""
    response = await api.post(f"/api/connections/{connection_id}/{kind}/run", json=body)
    if response.status_code != 202:
        raise ScenarioFailed(f"start {kind} run: {response.status_code} {response.text[:200]}")
    return str(response.json()["runId"])


async def wait_processed(
    pool: asyncpg.Pool[Any], run_id: str, *, kind: str = "push", timeout: float = 900, poll_s: float = 0.02
) -> float:
    """Wait until every item of the run is persisted (push) or the run is final (sync); returns the time."""
    deadline = time.monotonic() + timeout
    key = uuid.UUID(run_id)
    while time.monotonic() < deadline:
        row = await pool.fetchrow("SELECT status, total, processed FROM runs WHERE id = $1", key)
        if row is None:
            raise ScenarioFailed(f"run {run_id} is gone")
        if kind == "push" and row["status"] != "queued" and row["processed"] >= row["total"]:
            return time.perf_counter()
        if row["status"] in TERMINAL_STATUSES:
            if kind == "push" and row["processed"] < row["total"]:
                raise ScenarioFailed(
                    f"run {run_id} ended {row['status']} with {row['processed']}/{row['total']}"
                )
            return time.perf_counter()
        await asyncio.sleep(poll_s)
    raise ScenarioFailed(f"run {run_id} did not finish in {timeout:.0f}s")


async def timed_push(
    pool: asyncpg.Pool[Any], api: httpx.AsyncClient, connection_id: str, expected: int, **body: Any
) -> float:
    """Seconds from an auto push run's request to its last item persisted; it must succeed with `expected`."""
    started = time.perf_counter()
    run_id = await start_run(api, connection_id, "push", **body)
    finished = await wait_processed(pool, run_id)
    await require_succeeded(pool, run_id, expected)
    return finished - started


async def step_through(api: httpx.AsyncClient, connection_id: str, run_id: str) -> list[float]:
    """Drive a step run to its end, one `POST .../push` per batch in series; returns each call's seconds."""
    calls: list[float] = []
    while True:
        started = time.perf_counter()
        response = await api.post(f"/api/connections/{connection_id}/push/run/{run_id}/push")
        calls.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise ScenarioFailed(f"step push: {response.status_code} {response.text[:200]}")
        status: dict[str, Any] = response.json()
        if status["processed"] >= status["total"] or status["status"] in ("failed", "cancelled"):
            return calls


async def require_succeeded(
    pool: asyncpg.Pool[Any], run_id: str, expected: int, timeout: float = 120
) -> None:
    """The run ended `succeeded` with `expected` items: a figure of a failed run would be fake."""
    deadline = time.monotonic() + timeout
    key = uuid.UUID(run_id)
    while time.monotonic() < deadline:
        row = await pool.fetchrow(
            "SELECT status, status_reason, processed, succeeded, inserted FROM runs WHERE id = $1", key
        )
        assert row is not None
        if row["status"] in TERMINAL_STATUSES:
            done = max(row["succeeded"], row["inserted"])
            if row["status"] != "succeeded" or done != expected:
                raise ScenarioFailed(
                    f"run {run_id} ended {row['status']} ({row['status_reason']}) with {done}/{expected} items"
                )
            return
        await asyncio.sleep(0.05)
    raise ScenarioFailed(f"run {run_id} did not reach a final status in {timeout:.0f}s")


async def set_platform_latency(mock: httpx.AsyncClient, platform: str, latency_ms: int) -> None:
    """Every request to the platform waits `latency_ms` (or none, with 0)."""
    if latency_ms <= 0:
        await mock.delete(f"/admin/faults/{platform}")
        return
    response = await mock.put(
        f"/admin/faults/{platform}", json={"latency_ms": latency_ms, "count": 1_000_000}
    )
    if response.status_code != 200:
        raise ScenarioFailed(f"mock faults: {response.status_code} {response.text[:200]}")
