"""The gateway's /metrics as a Prometheus server sees it: bounded labels, and the open run work."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.test_connections_api import custom_api_connection
from tests.support.deploy_manifests import REPO
from tests.support.metrics import prometheus_sample

pytestmark = pytest.mark.integration


def _series(text: str, name: str) -> set[tuple[tuple[str, str], ...]]:
    return {
        tuple(sorted(sample.labels.items()))
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


async def test_made_up_methods_share_one_label(gateway_url: str) -> None:
    async with httpx.AsyncClient(base_url=gateway_url) as anonymous:
        for method in ("BREW", "PROPFIND", "X-SCAN-1", "X-SCAN-2", "PURGE"):
            await anonymous.request(method, "/api/topics")
        text = (await anonymous.get("/metrics")).text
    methods = {dict(labels)["method"] for labels in _series(text, "activator_http_requests_total")}
    assert methods <= {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"}
    other = [
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "activator_http_requests_total" and sample.labels["method"] == "other"
    ]
    assert sum(other) >= 5


async def test_open_run_work_is_reported_per_kind_on_scrape(
    api: httpx.AsyncClient, gateway_url: str, pool: asyncpg.Pool[Any]
) -> None:
    connection = (await api.post("/api/connections", json=custom_api_connection())).json()
    run_id: uuid.UUID = await pool.fetchval(
        """INSERT INTO runs (org_id, connection_id, kind, status, total, processed, accepted_at)
           SELECT org_id, id, 'push', 'running', 1000, 250, now() - interval '2 hours'
           FROM platform_connections WHERE id = $1 RETURNING id""",
        uuid.UUID(connection["id"]),
    )
    async with httpx.AsyncClient(base_url=gateway_url) as anonymous:
        open_now = (await anonymous.get("/metrics")).text
        await pool.execute("UPDATE runs SET work_done_at = now(), status = 'succeeded' WHERE id = $1", run_id)
        done = (await anonymous.get("/metrics")).text

    assert prometheus_sample(open_now, "activator_open_runs", kind="push") >= 1
    assert prometheus_sample(open_now, "activator_open_run_lanes", kind="push") >= 1
    assert prometheus_sample(open_now, "activator_open_run_items_remaining", kind="push") >= 750
    assert prometheus_sample(open_now, "activator_open_run_oldest_age_seconds", kind="push") >= 7200
    # A kind without open runs reports 0, not a missing series: autoscaling and alerts read a number.
    assert _series(open_now, "activator_open_runs") >= {(("kind", "sync"),)}
    assert prometheus_sample(done, "activator_open_run_oldest_age_seconds", kind="push") < 7200
    assert prometheus_sample(done, "activator_open_run_items_remaining", kind="push") == pytest.approx(
        prometheus_sample(open_now, "activator_open_run_items_remaining", kind="push") - 750
    )


async def test_the_autoscaler_query_counts_open_runs_from_their_index(
    api: httpx.AsyncClient, pool: asyncpg.Pool[Any]
) -> None:
    """What KEDA runs against Postgres every 15 s: it must parse, count open runs, and stay cheap."""
    documents = yaml.safe_load_all((REPO / "deploy/k8s/base/scaledobjects.yaml").read_text())
    queries = {
        document["metadata"]["name"]: document["spec"]["triggers"][0]["metadata"]["query"]
        for document in documents
        if document["kind"] == "ScaledObject"
    }
    connection = (await api.post("/api/connections", json=custom_api_connection())).json()
    before = await pool.fetchval(queries["push-worker"])
    await pool.execute(
        """INSERT INTO runs (org_id, connection_id, kind, status, accepted_at)
           SELECT org_id, id, 'push', 'queued', now() FROM platform_connections WHERE id = $1""",
        uuid.UUID(connection["id"]),
    )
    assert await pool.fetchval(queries["push-worker"]) == before + 1
    await pool.execute(  # a big run split into 3 lanes gives three replicas' slots work
        """INSERT INTO runs (org_id, connection_id, kind, status, accepted_at, lanes)
           SELECT org_id, id, 'push', 'running', now(), 3 FROM platform_connections WHERE id = $1""",
        uuid.UUID(connection["id"]),
    )
    assert await pool.fetchval(queries["push-worker"]) == before + 4
    async with pool.acquire() as db, db.transaction():
        await db.execute("SET LOCAL enable_seqscan = off")  # a test database is small enough to seq-scan
        plan = "\n".join(row[0] for row in await db.fetch(f"EXPLAIN {queries['sync-worker']}"))
    # Either partial index of unfinished runs serves it: the cost follows the open runs, not the history.
    assert "runs_open_work" in plan or "runs_connection_leases" in plan, plan
