"""The ledger keeps where a segment was made and the segments a moved topic's segment replaced, and the
activations API shows both."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from shared.db.activations import ActivationWrite, activations_for, record_activations
from tests.integration.test_connections_api import custom_api_connection

pytestmark = pytest.mark.integration


async def _topic(api: httpx.AsyncClient, pool: asyncpg.Pool[Any]) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    connection_id = uuid.UUID((await api.post("/api/connections", json=custom_api_connection())).json()["id"])
    org_id: uuid.UUID = await pool.fetchval(
        "SELECT org_id FROM platform_connections WHERE id = $1", connection_id
    )
    topic_id: uuid.UUID = await pool.fetchval(
        "INSERT INTO topics (org_id, name) VALUES ($1, 'Sedans') RETURNING id", org_id
    )
    return org_id, connection_id, topic_id


async def test_a_move_records_the_new_path_and_appends_the_replaced_segment_once(
    api: httpx.AsyncClient, pool: asyncpg.Pool[Any]
) -> None:
    org_id, connection_id, topic_id = await _topic(api, pool)

    async def record(write: ActivationWrite) -> None:
        await record_activations(
            pool, org_id=org_id, connection_id=connection_id, run_id=uuid.uuid4(), writes=[write]
        )

    async def held() -> tuple[str | None, tuple[str, ...] | None, tuple[str, ...]]:
        row = (await activations_for(pool, connection_id, [topic_id]))[topic_id]
        return row.platform_segment_id, row.platform_path, row.replaced_segment_ids

    await record(ActivationWrite(topic_id, "e1", "h", "active", "created", platform_path=("Autos", "Cars")))
    assert await held() == ("e1", ("Autos", "Cars"), ())
    # An update cannot move an element: it leaves the path as it was.
    await record(ActivationWrite(topic_id, "e1", "h2", "active", "updated"))
    assert await held() == ("e1", ("Autos", "Cars"), ())
    # A failed move keeps the old element and its path, so the next run moves it again.
    await record(ActivationWrite(topic_id, "e1", None, "failed", "failed", replaces="e1"))
    assert await held() == ("e1", ("Autos", "Cars"), ())
    move = ActivationWrite(
        topic_id, "e2", "h2", "active", "updated", platform_path=("Autos", "Family"), replaces="e1"
    )
    await record(move)
    await record(move)  # a redelivered batch records it again
    assert await held() == ("e2", ("Autos", "Family"), ("e1",))
    await record(ActivationWrite(topic_id, "e3", "h2", "active", "updated", platform_path=(), replaces="e2"))
    assert await held() == ("e3", (), ("e1", "e2"))

    [shown] = (await api.get(f"/api/connections/{connection_id}/activations")).json()["items"]
    assert (shown["platformSegmentId"], shown["platformPath"], shown["replacedSegmentIds"]) == (
        "e3",
        [],
        ["e1", "e2"],
    )


async def test_the_api_shows_an_unknown_path_as_null_and_no_lineage(
    api: httpx.AsyncClient, pool: asyncpg.Pool[Any]
) -> None:
    org_id, connection_id, topic_id = await _topic(api, pool)
    # Written before the ledger kept paths (or by a write that never made a segment).
    await record_activations(
        pool,
        org_id=org_id,
        connection_id=connection_id,
        run_id=uuid.uuid4(),
        writes=[ActivationWrite(topic_id, "s1", "h", "active", "updated")],
    )
    [shown] = (await api.get(f"/api/connections/{connection_id}/activations")).json()["items"]
    assert (shown["platformPath"], shown["replacedSegmentIds"]) == (None, [])
