"""POST /api/topics/bulk as a set-based import: counts, names rendered in the same write, what an
update keeps, a 422 naming the field, and an import of several merge chunks (all or nothing)."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from shared.db.topic_import import MERGE_CHUNK
from shared.db.topics import TopicFields, upsert_rendered_topics

TTD = {"key": "tradedesk", "pathFields": ["path"], "descriptionTemplate": "TTD: {{name}}"}
ACME = {"key": "acme", "pathFields": ["name"], "nameTemplate": "{{path}} ({{cpm}})"}


async def _bulk(api: httpx.AsyncClient, topics: list[dict[str, Any]]) -> httpx.Response:
    return await api.post("/api/topics/bulk", json={"topics": topics}, timeout=120)


async def _stored(pool: asyncpg.Pool[Any], api: httpx.AsyncClient, external_id: str) -> dict[str, Any]:
    topic_id = await _topic_id(api, external_id)
    row = await pool.fetchrow(
        """SELECT name, path, cpm, attributes, status, source_connection_id, tradedesk_name,
                  tradedesk_description, liveramp_name, platform_outputs FROM topics WHERE id = $1""",
        topic_id,
    )
    assert row is not None
    return dict(row)


async def _topic_id(api: httpx.AsyncClient, external_id: str) -> uuid.UUID:
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {
            "limit": 1000,
            "includeDeleted": True,
            **({"cursor": cursor} if cursor else {}),
        }
        page = (await api.get("/api/topics", params=params)).json()
        for item in page["items"]:
            if item["externalId"] == external_id:
                return uuid.UUID(item["id"])
        cursor = page["nextCursor"]
        assert cursor is not None, f"{external_id} not found"


async def test_counts_and_names_of_a_two_request_import_with_templates_active(
    api: httpx.AsyncClient, pool: asyncpg.Pool[Any]
) -> None:
    for template in (TTD, ACME):
        assert (await api.post("/api/output-templates", json=template)).status_code == 201
    topics = [
        {"name": f"Seg {i}", "path": ["Interests", f"Seg {i}"], "externalId": f"imp-{i}", "cpm": "1.5"}
        for i in range(2_500)
    ]
    assert (await _bulk(api, topics[:1_500])).json() == {"created": 1_500, "updated": 0}
    # Overlapping the first request: 500 updated, 1,000 created; topics without externalId always created.
    second = await _bulk(api, [*topics[1_000:], {"name": "No id"}])
    assert second.json() == {"created": 1_001, "updated": 500}

    row = await _stored(pool, api, "imp-1200")
    assert row["tradedesk_name"] == "Interests > Seg 1200"
    assert row["tradedesk_description"] == "TTD: Seg 1200"
    assert row["liveramp_name"] is None  # no liveramp template: nothing stored for it
    assert row["platform_outputs"] == {"acme": {"name": "Interests > Seg 1200 (1.50)", "description": ""}}
    topic = (await api.get(f"/api/topics/{await _topic_id(api, 'imp-1200')}")).json()
    assert topic["outputs"]["acme"]["name"] == "Interests > Seg 1200 (1.50)"


async def test_an_update_replaces_fields_and_names_reactivates_and_keeps_the_source_connection(
    api: httpx.AsyncClient, pool: asyncpg.Pool[Any]
) -> None:
    assert (await api.post("/api/output-templates", json=TTD)).status_code == 201
    first = {"name": "Old", "path": ["A"], "externalId": "upd-1", "attributes": {"k": "v"}}
    assert (await _bulk(api, [first])).json() == {"created": 1, "updated": 0}
    topic_id = await _topic_id(api, "upd-1")
    connection_id = await pool.fetchval(
        """INSERT INTO platform_connections (org_id, name, platform, direction, auth_type)
           SELECT org_id, 'src', 'custom_api', 'inbound', 'api_key' FROM topics WHERE id = $1 RETURNING id""",
        topic_id,
    )
    await pool.execute("UPDATE topics SET source_connection_id = $2 WHERE id = $1", topic_id, connection_id)
    assert (await api.delete(f"/api/topics/{topic_id}")).status_code == 204

    again = await _bulk(api, [{"name": "New", "path": ["B", "C"], "externalId": "upd-1", "cpm": 2}])
    assert again.json() == {"created": 0, "updated": 1}
    row = await _stored(pool, api, "upd-1")
    assert (row["name"], row["path"], row["attributes"], row["status"]) == ("New", ["B", "C"], {}, "active")
    assert row["source_connection_id"] == connection_id
    assert (row["tradedesk_name"], row["tradedesk_description"]) == ("B > C", "TTD: New")


async def test_a_re_render_after_import_gives_the_names_the_import_stored(
    api: httpx.AsyncClient, pool: asyncpg.Pool[Any]
) -> None:
    assert (await api.post("/api/output-templates", json=ACME)).status_code == 201
    topics = [
        {"name": f"R {i}", "path": ["P", f"R {i}"], "externalId": f"rr-{i}", "cpm": 0.125} for i in range(300)
    ]
    assert (await _bulk(api, topics)).status_code == 200
    org_id = await pool.fetchval("SELECT org_id FROM topics WHERE id = $1", await _topic_id(api, "rr-7"))
    imported = await pool.fetch(
        "SELECT id, platform_outputs FROM topics WHERE org_id = $1 ORDER BY id", org_id
    )
    await pool.execute("UPDATE topics SET platform_outputs = '{}' WHERE org_id = $1", org_id)
    rendered = await api.post("/api/output-templates/acme/render")
    assert rendered.json()["rendered"] == 300
    again = await pool.fetch("SELECT id, platform_outputs FROM topics WHERE org_id = $1 ORDER BY id", org_id)
    assert [dict(row) for row in again] == [dict(row) for row in imported]
    assert imported[0]["platform_outputs"]["acme"]["name"].endswith("(0.13)")


async def test_an_invalid_topic_is_a_422_naming_its_field_and_nothing_is_written(
    api: httpx.AsyncClient,
) -> None:
    topics = [{"name": f"T{i}", "externalId": f"bad-{i}"} for i in range(10)]
    topics[7] = {"name": "", "externalId": "bad-7"}
    response = await _bulk(api, topics)
    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["body.topics.7.name"]
    duplicate = await _bulk(api, [{"name": "A", "externalId": "d"}, {"name": "B", "externalId": "d"}])
    assert duplicate.status_code == 422
    assert "topics[1].externalId 'd' appears more than once" in duplicate.text
    assert (await api.get("/api/topics")).json()["items"] == []


async def test_a_request_of_several_merge_chunks_counts_and_names_every_topic(
    api: httpx.AsyncClient, pool: asyncpg.Pool[Any]
) -> None:
    assert (await api.post("/api/output-templates", json=ACME)).status_code == 201
    count = MERGE_CHUNK * 2 + 100  # two full chunks and a part of one
    topics = [{"name": f"C {i}", "path": ["P"], "externalId": f"ch-{i}", "cpm": "2"} for i in range(count)]
    first = topics[MERGE_CHUNK - 50 : MERGE_CHUNK + 50]  # astride the first chunk boundary
    assert (await _bulk(api, first)).json() == {"created": 100, "updated": 0}
    assert (await _bulk(api, topics)).json() == {"created": count - 100, "updated": 100}
    org_id = await pool.fetchval("SELECT org_id FROM topics WHERE id = $1", await _topic_id(api, "ch-0"))
    names = await pool.fetch(
        "SELECT external_id, platform_outputs -> 'acme' ->> 'name' AS name FROM topics WHERE org_id = $1",
        org_id,
    )
    assert len(names) == count
    assert {row["name"] for row in names} == {"P (2.00)"}


async def test_an_import_failing_in_a_later_chunk_writes_none_of_its_topics(pool: asyncpg.Pool[Any]) -> None:
    org_id = await pool.fetchval("INSERT INTO orgs (name) VALUES ('chunks') RETURNING id")
    topics = [TopicFields(name=f"F {i}", external_id=f"f-{i}") for i in range(350)]
    # NaN is no JSON Postgres takes: the fourth chunk of 100 fails after three were merged.
    topics[320] = TopicFields(name="F 320", external_id="f-320", attributes={"x": float("nan")})
    with pytest.raises(asyncpg.PostgresError):
        async with pool.acquire() as connection, connection.transaction():
            await upsert_rendered_topics(connection, org_id, topics, render_batch=100)
    assert await pool.fetchval("SELECT count(*) FROM topics WHERE org_id = $1", org_id) == 0

    del topics[320]
    async with pool.acquire() as connection, connection.transaction():
        written = await upsert_rendered_topics(connection, org_id, topics, render_batch=100)
    stored = await pool.fetch("SELECT id, external_id FROM topics WHERE org_id = $1", org_id)
    # Every topic's (id, created) comes back once, in the order given, across the chunks.
    by_id = {row["id"]: row["external_id"] for row in stored}
    assert [by_id[topic_id] for topic_id, _ in written] == [topic.external_id for topic in topics]
    assert all(created for _, created in written)
