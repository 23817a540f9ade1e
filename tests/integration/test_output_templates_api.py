"""Output templates over real HTTP and Postgres: validation, preview, stored names, tenancy."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from shared.db.orgs import create_org
from shared.db.topics import TopicFields, upsert_rendered_topics
from tests.integration.test_connections_api import custom_api_connection

pytestmark = pytest.mark.integration

ACME = {
    "key": "acme",
    "pathFields": ["parent_category", "name"],
    "separator": " | ",
    "descriptionTemplate": "{{description}} ({{attributes.source}})",
}
TTD = {"key": "tradedesk", "pathFields": ["path"], "separator": " > ", "descriptionTemplate": "TTD: {{name}}"}


@pytest.fixture
async def other_api(gateway_url: str, pool: asyncpg.Pool[Any]) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a second org."""
    _org_id, api_key = await create_org(pool, f"other-{uuid.uuid4().hex[:6]}")
    async with httpx.AsyncClient(
        base_url=gateway_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=30
    ) as client:
        yield client


async def _topic(api: httpx.AsyncClient, name: str, **fields: Any) -> dict[str, Any]:
    response = await api.post("/api/topics", json={"name": name, **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def _create(api: httpx.AsyncClient, template: dict[str, Any]) -> dict[str, Any]:
    response = await api.post("/api/output-templates", json=template)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_template_round_trip(api: httpx.AsyncClient) -> None:
    created = await _create(api, ACME)
    assert created["active"] is True
    assert created["pathFields"] == ["parent_category", "name"]
    assert (await api.get("/api/output-templates/acme")).json() == created
    assert [template["key"] for template in (await api.get("/api/output-templates")).json()] == ["acme"]

    replaced = await api.put("/api/output-templates/acme", json={**ACME, "separator": " / ", "key": None})
    assert replaced.status_code == 422  # the key is the path's, not the body's
    replaced = await api.put("/api/output-templates/acme", json={"pathFields": ["name"], "separator": " / "})
    assert replaced.status_code == 200, replaced.text
    assert (replaced.json()["separator"], replaced.json()["active"]) == (" / ", True)

    deactivated = await api.post("/api/output-templates/acme/deactivate")
    assert deactivated.json()["active"] is False
    kept = await api.put("/api/output-templates/acme", json={"pathFields": ["name"]})
    assert kept.json()["active"] is False  # `active` omitted keeps the state
    assert (await api.put("/api/output-templates/acme", json={"active": True})).json()["active"] is True
    assert (await api.post("/api/output-templates/acme/activate")).json()["active"] is True

    assert (await api.delete("/api/output-templates/acme")).status_code == 204
    missing = await api.get("/api/output-templates/acme")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert (await api.delete("/api/output-templates/acme")).status_code == 404


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("nameTemplate", "{{name}} {{colour}}", "colour"),
        ("descriptionTemplate", "{{description}} {{attributes.}}", "attributes."),
        ("pathFields", ["path", "bogus_field"], "bogus_field"),
        ("descriptionTemplate", "{{ name-with-dash }}", "malformed"),
    ],
)
async def test_unknown_placeholder_is_a_problem_naming_it(
    api: httpx.AsyncClient, field: str, value: Any, named: str
) -> None:
    for response in (
        await api.post("/api/output-templates", json={**ACME, field: value}),
        await api.put("/api/output-templates/acme", json={field: value}),
    ):
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        errors = response.json()["errors"]
        assert errors[0]["field"] == f"body.{field}"
        assert named in errors[0]["message"]
    assert (await api.get("/api/output-templates/acme")).status_code == 404


async def test_invalid_key_and_duplicate_key(api: httpx.AsyncClient) -> None:
    bad = await api.post("/api/output-templates", json={**ACME, "key": "Not A Key"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "body.key"
    await _create(api, ACME)
    again = await api.post("/api/output-templates", json=ACME)
    assert again.status_code == 409
    assert "acme" in again.json()["detail"]


async def test_preview_renders_stored_and_inline_topics_and_stores_nothing(
    api: httpx.AsyncClient, pool: asyncpg.Pool[Any]
) -> None:
    topic = await _topic(
        api,
        "Auto Intenders",
        parentCategory="Automotive",
        description="Car shoppers",
        attributes={"source": "dmp"},
        externalId="auto-1",
    )
    await _create(api, {**ACME, "active": False})
    preview = await api.post("/api/output-templates/acme/preview", json={"topicIds": [topic["id"]]})
    assert preview.status_code == 200, preview.text
    assert preview.json() == {
        "key": "acme",
        "items": [
            {
                "topicId": topic["id"],
                "externalId": "auto-1",
                "name": "Automotive | Auto Intenders",
                "description": "Car shoppers (dmp)",
            }
        ],
    }
    inline = await api.post(
        "/api/output-templates/acme/preview",
        json={"topics": [{"name": "Luxury", "parentCategory": "Cars", "description": "Rich"}]},
    )
    assert inline.json()["items"] == [
        {"topicId": None, "externalId": None, "name": "Cars | Luxury", "description": "Rich ()"}
    ]
    outputs = await pool.fetchval("SELECT platform_outputs FROM topics WHERE id = $1", uuid.UUID(topic["id"]))
    assert outputs == {}

    unknown = await api.post("/api/output-templates/acme/preview", json={"topicIds": [str(uuid.uuid4())]})
    assert unknown.status_code == 404
    neither = await api.post("/api/output-templates/acme/preview", json={})
    assert neither.status_code == 422
    assert (
        await api.post("/api/output-templates/nope/preview", json={"topicIds": [topic["id"]]})
    ).status_code == 404


async def test_rendered_names_follow_template_and_topic_changes(
    api: httpx.AsyncClient, pool: asyncpg.Pool[Any]
) -> None:
    topic = await _topic(
        api, "Auto Intenders", parentCategory="Automotive", path=["Automotive", "Auto Intenders"]
    )
    topic_id = uuid.UUID(topic["id"])
    await _create(api, TTD)
    await _create(api, ACME)

    async def stored() -> dict[str, Any]:
        row = await pool.fetchrow(
            "SELECT tradedesk_name, tradedesk_description, platform_outputs FROM topics WHERE id = $1",
            topic_id,
        )
        assert row is not None
        return dict(row)

    row = await stored()
    assert (row["tradedesk_name"], row["tradedesk_description"]) == (
        "Automotive > Auto Intenders",
        "TTD: Auto Intenders",
    )
    # Built-in keys use their own columns; only other keys go to platform_outputs.
    assert row["platform_outputs"] == {"acme": {"name": "Automotive | Auto Intenders", "description": "()"}}
    assert (await api.get(f"/api/topics/{topic_id}")).json()["outputs"] == {
        "acme": {"name": "Automotive | Auto Intenders", "description": "()"},
        "tradedesk": {"name": "Automotive > Auto Intenders", "description": "TTD: Auto Intenders"},
    }

    # A topic change re-renders its names.
    updated = await api.put(
        f"/api/topics/{topic_id}",
        json={"name": "Car Buyers", "parentCategory": "Auto", "path": ["Auto", "Car Buyers"]},
    )
    assert updated.json()["outputs"]["tradedesk"]["name"] == "Auto > Car Buyers"
    assert (await stored())["platform_outputs"]["acme"]["name"] == "Auto | Car Buyers"

    # Topics written in bulk are rendered too.
    bulk = await api.post(
        "/api/topics/bulk",
        json={
            "topics": [{"name": f"Bulk {i}", "parentCategory": "B", "externalId": f"b-{i}"} for i in range(3)]
        },
    )
    assert bulk.status_code == 200, bulk.text
    names = await pool.fetch(
        "SELECT platform_outputs->'acme'->>'name' AS name FROM topics WHERE external_id LIKE 'b-%' ORDER BY 1"
    )
    assert [r["name"] for r in names] == ["B | Bulk 0", "B | Bulk 1", "B | Bulk 2"]

    # A template change re-renders every topic.
    changed = await api.put("/api/output-templates/acme", json={"pathFields": ["name"], "separator": "-"})
    assert changed.status_code == 200, changed.text
    assert (await stored())["platform_outputs"]["acme"]["name"] == "Car Buyers"

    # Deactivating clears the stored names; rendering an inactive template is refused.
    await api.post("/api/output-templates/tradedesk/deactivate")
    assert (await stored())["tradedesk_name"] is None
    refused = await api.post("/api/output-templates/tradedesk/render")
    assert refused.status_code == 409
    await api.post("/api/output-templates/tradedesk/activate")
    assert (await stored())["tradedesk_name"] == "Auto > Car Buyers"

    # Names drifted outside the API are repaired by an explicit render.
    await pool.execute("UPDATE topics SET tradedesk_name = 'stale' WHERE id = $1", topic_id)
    rendered = await api.post("/api/output-templates/tradedesk/render")
    assert rendered.json() == {"key": "tradedesk", "rendered": 4}
    assert (await stored())["tradedesk_name"] == "Auto > Car Buyers"

    assert (await api.delete("/api/output-templates/acme")).status_code == 204
    assert "acme" not in (await stored())["platform_outputs"]


async def test_a_template_a_connection_names_cannot_be_deleted(api: httpx.AsyncClient) -> None:
    await _create(api, ACME)
    body = custom_api_connection()
    body["config"]["output_template_key"] = "acme"
    connection = (await api.post("/api/connections", json=body)).json()
    refused = await api.delete("/api/output-templates/acme")
    assert refused.status_code == 409
    assert connection["id"] in refused.json()["detail"]
    await api.delete(f"/api/connections/{connection['id']}")
    assert (await api.delete("/api/output-templates/acme")).status_code == 204


async def test_orgs_cannot_see_count_or_change_each_others_templates(
    api: httpx.AsyncClient, other_api: httpx.AsyncClient, pool: asyncpg.Pool[Any]
) -> None:
    topic = await _topic(api, "Mine", parentCategory="A")
    await _create(api, ACME)

    assert (await other_api.get("/api/output-templates")).json() == []
    assert (await other_api.get("/api/output-templates/acme")).status_code == 404
    assert (
        await other_api.put("/api/output-templates/acme", json={"pathFields": ["name"]})
    ).status_code == 404
    assert (await other_api.post("/api/output-templates/acme/deactivate")).status_code == 404
    assert (await other_api.post("/api/output-templates/acme/render")).status_code == 404
    assert (await other_api.delete("/api/output-templates/acme")).status_code == 404

    # The same key in another org is another template, rendered onto that org's topics only.
    theirs = await _create(other_api, {**ACME, "pathFields": ["name"], "separator": "#"})
    assert theirs["separator"] == "#"
    assert (
        await other_api.post("/api/output-templates/acme/preview", json={"topicIds": [topic["id"]]})
    ).status_code == 404
    rendered = await other_api.post("/api/output-templates/acme/render")
    assert rendered.json()["rendered"] == 0
    mine = await pool.fetchval("SELECT platform_outputs FROM topics WHERE id = $1", uuid.UUID(topic["id"]))
    assert mine == {"acme": {"name": "A | Mine", "description": "()"}}
    assert (await api.get("/api/output-templates/acme")).json()["separator"] == " | "


async def test_topics_upserted_by_a_sync_are_rendered(
    api: httpx.AsyncClient, pool: asyncpg.Pool[Any]
) -> None:
    await _create(api, TTD)
    anchor = await _topic(api, "Anchor")
    org_id = await pool.fetchval("SELECT org_id FROM topics WHERE id = $1", uuid.UUID(anchor["id"]))
    async with pool.acquire() as connection, connection.transaction():
        written = await upsert_rendered_topics(
            connection,
            org_id,
            [TopicFields(name="Synced", path=["Inbound", "Synced"], external_id="sync-1")],
            render_batch=100,
        )
    name = await pool.fetchval("SELECT tradedesk_name FROM topics WHERE id = $1", written[0][0])
    assert name == "Inbound > Synced"


async def test_a_template_change_racing_topic_writes_leaves_no_stale_name(
    api: httpx.AsyncClient, pool: asyncpg.Pool[Any]
) -> None:
    await _create(api, {**ACME, "pathFields": ["name"], "separator": "-", "descriptionTemplate": "v1"})

    async def write(batch: int) -> None:
        topics = [{"name": f"T{batch}-{i}", "externalId": f"race-{batch}-{i}"} for i in range(200)]
        assert (await api.post("/api/topics/bulk", json={"topics": topics})).status_code == 200

    async def change() -> None:
        response = await api.put(
            "/api/output-templates/acme", json={"pathFields": ["name"], "descriptionTemplate": "v2"}
        )
        assert response.status_code == 200

    await asyncio.gather(write(0), write(1), change(), write(2), write(3))
    descriptions = await pool.fetch(
        """SELECT platform_outputs->'acme'->>'description' AS description, count(*) AS n FROM topics
           WHERE external_id LIKE 'race-%' GROUP BY 1"""
    )
    assert {row["description"]: row["n"] for row in descriptions} == {"v2": 800}


async def test_inline_preview_matches_the_names_kept_for_stored_topics(api: httpx.AsyncClient) -> None:
    await _create(api, {"key": "pricing", "nameTemplate": "{{name}} @ {{cpm}}", "descriptionTemplate": "x"})
    topic = await _topic(api, "Premium", cpm=1.5)
    inline = await api.post(
        "/api/output-templates/pricing/preview", json={"topics": [{"name": "Premium", "cpm": 1.5}]}
    )
    # Money in the currency's minor units: USD for stored names, the asked currency in a preview.
    assert inline.json()["items"][0]["name"] == topic["outputs"]["pricing"]["name"] == "Premium @ 1.50"
    yen = await api.post(
        "/api/output-templates/pricing/preview", json={"topicIds": [topic["id"]], "currency": "JPY"}
    )
    assert yen.json()["items"][0]["name"] == "Premium @ 2"


async def test_templates_speak_the_guides_topic_field_names(api: httpx.AsyncClient) -> None:
    guide = {
        "key": "guide",
        "pathFields": ["parent_category", "topic_name"],
        "separator": " - ",
        "descriptionTemplate": "{{topic_name}} ({{parent_category}}, {{external_id}})",
    }
    created = await _create(api, guide)
    assert created["pathFields"] == ["parent_category", "topic_name"]  # kept as written
    topic = await _topic(api, "Auto Intenders", parentCategory="Automotive", externalId="auto-001")
    assert topic["outputs"]["guide"] == {
        "name": "Automotive - Auto Intenders",
        "description": "Auto Intenders (Automotive, auto-001)",
    }
    named = await api.put("/api/output-templates/guide", json={"nameTemplate": "{{topic_name}}!"})
    assert named.status_code == 200, named.text
    refused = await api.put("/api/output-templates/guide", json={"nameTemplate": "{{topicName}}"})
    assert refused.status_code == 422
    assert "topic_name" in refused.json()["errors"][0]["message"]  # the allowed names include it
