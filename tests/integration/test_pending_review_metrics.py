"""Activations a platform still reviews, on the gateway's /metrics: how many, and since when the oldest has
been pending — across re-pushes, which write a pending activation again — read from a small index."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from shared.db.activations import ActivationWrite, record_activations, record_confirmations
from shared.db.pending_work import PENDING_REVIEW
from tests.integration.test_connections_api import custom_api_connection
from tests.support.metrics import prometheus_sample

pytestmark = pytest.mark.integration

THREE_DAYS_S = 3 * 24 * 3600


async def _push(
    pool: asyncpg.Pool[Any], connection_id: uuid.UUID, topic_id: uuid.UUID, content_hash: str
) -> None:
    """What a push-worker records when the platform took a write it has yet to review."""
    org_id = await pool.fetchval("SELECT org_id FROM platform_connections WHERE id = $1", connection_id)
    write = ActivationWrite(
        topic_id=topic_id,
        platform_segment_id="seg-1",
        content_hash=content_hash,
        state="pending",
        outcome="created",
    )
    await record_activations(
        pool, org_id=org_id, connection_id=connection_id, run_id=uuid.uuid4(), writes=[write]
    )


async def _pending_activation(api: httpx.AsyncClient, pool: asyncpg.Pool[Any]) -> tuple[uuid.UUID, uuid.UUID]:
    connection_id = uuid.UUID((await api.post("/api/connections", json=custom_api_connection())).json()["id"])
    topic_id: uuid.UUID = await pool.fetchval(
        """INSERT INTO topics (org_id, name) SELECT org_id, 'under review' FROM platform_connections
           WHERE id = $1 RETURNING id""",
        connection_id,
    )
    await _push(pool, connection_id, topic_id, "h1")
    return connection_id, topic_id


async def _pending_for_s(pool: asyncpg.Pool[Any], connection_id: uuid.UUID) -> float | None:
    age: float | None = await pool.fetchval(
        "SELECT extract(epoch FROM now() - pending_since)::float8 FROM activations WHERE connection_id = $1",
        connection_id,
    )
    return age


async def test_the_oldest_pending_review_keeps_its_age_across_re_pushes(
    api: httpx.AsyncClient, gateway_url: str, pool: asyncpg.Pool[Any]
) -> None:
    connection_id, topic_id = await _pending_activation(api, pool)
    # Pending for three days; a push since then wrote it again, still pending.
    await pool.execute(
        "UPDATE activations SET pending_since = now() - interval '3 days' WHERE connection_id = $1",
        connection_id,
    )
    await _push(pool, connection_id, topic_id, "h1")

    async with httpx.AsyncClient(base_url=gateway_url) as anonymous:
        pending = (await anonymous.get("/metrics")).text
        await record_confirmations(pool, connection_id, {topic_id: ("active", None)})

    assert prometheus_sample(pending, "activator_activations_pending_review") >= 1
    assert (
        prometheus_sample(pending, "activator_activations_pending_review_oldest_age_seconds") >= THREE_DAYS_S
    )
    assert await _pending_for_s(pool, connection_id) is None, "a confirmed activation is no longer pending"


async def test_an_activation_pending_again_counts_from_then(
    api: httpx.AsyncClient, pool: asyncpg.Pool[Any]
) -> None:
    connection_id, topic_id = await _pending_activation(api, pool)
    await record_confirmations(pool, connection_id, {topic_id: ("active", None)})
    await _push(pool, connection_id, topic_id, "h2")
    age_s = await _pending_for_s(pool, connection_id)
    assert age_s is not None
    assert 0 <= age_s < 60


async def test_the_pending_review_query_reads_the_partial_index(pool: asyncpg.Pool[Any]) -> None:
    async with pool.acquire() as db, db.transaction():
        await db.execute("SET LOCAL enable_seqscan = off")  # a test database is small enough to seq-scan
        plan = "\n".join(row[0] for row in await db.fetch(f"EXPLAIN {PENDING_REVIEW}"))
        # Either partial index on pending rows serves (0016's by age, 0018's by run): the planner picks
        # between them on cost, and both read only what is pending, never the whole ledger.
        pending_only = {
            row["indexname"]
            for row in await db.fetch(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'activations'"
                " AND indexdef LIKE '%WHERE (state = ''pending''%'"
            )
        }
    assert "activations_pending_review" in pending_only, pending_only
    assert "Seq Scan" not in plan, plan
    assert any(name in plan for name in pending_only), plan
