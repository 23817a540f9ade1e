"""Connections over real HTTP and Postgres: secrets stay encrypted, orgs stay apart, limits hold."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from shared.db.orgs import create_org

pytestmark = pytest.mark.integration

SECRET = "sk-live-do-not-leak-4242"


def custom_api_connection(name: str = "Acme REST", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "platform": "custom_api",
        "direction": "outbound",
        "authType": "api_key",
        "authCredentials": {"api_key": SECRET},
        "config": {"api_base_url": "http://127.0.0.1:9/custom", "default_cpm": 2.5, "currency": "USD"},
    }
    body.update(overrides)
    return body


@pytest.fixture
async def other_org(gateway_url: str, pool: asyncpg.Pool[Any]) -> httpx.AsyncClient:
    _org_id, api_key = await create_org(pool, f"other-{uuid.uuid4().hex[:6]}")
    return httpx.AsyncClient(base_url=gateway_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=30)


async def test_created_connection_never_returns_or_stores_the_credential(
    api: httpx.AsyncClient, pool: asyncpg.Pool[Any]
) -> None:
    created = await api.post("/api/connections", json=custom_api_connection())
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["hasCredentials"] is True
    assert SECRET not in created.text
    fetched = await api.get(f"/api/connections/{body['id']}")
    assert SECRET not in fetched.text
    row = await pool.fetchrow(
        "SELECT auth_credentials, auth_credentials_enc FROM platform_connections WHERE id = $1",
        uuid.UUID(body["id"]),
    )
    assert row is not None
    assert row["auth_credentials"] == {}
    assert SECRET.encode() not in bytes(row["auth_credentials_enc"])


async def test_update_without_credentials_keeps_the_stored_ones(
    api: httpx.AsyncClient, pool: asyncpg.Pool[Any], settings: Any
) -> None:
    created = (await api.post("/api/connections", json=custom_api_connection())).json()
    update = custom_api_connection(name="Renamed")
    del update["authCredentials"]
    response = await api.put(f"/api/connections/{created['id']}", json=update)
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Renamed"
    plaintext = await pool.fetchval(
        "SELECT pgp_sym_decrypt(auth_credentials_enc, $2) FROM platform_connections WHERE id = $1",
        uuid.UUID(created["id"]),
        settings.credentials_encryption_key.get_secret_value(),
    )
    assert SECRET in plaintext


async def test_another_orgs_connection_is_not_found(
    api: httpx.AsyncClient, other_org: httpx.AsyncClient
) -> None:
    created = (await api.post("/api/connections", json=custom_api_connection())).json()
    async with other_org:
        assert (await other_org.get(f"/api/connections/{created['id']}")).status_code == 404
        assert (await other_org.delete(f"/api/connections/{created['id']}")).status_code == 404
        listed = (await other_org.get("/api/connections")).json()
    assert created["id"] not in {connection["id"] for connection in listed}


async def test_invalid_config_is_a_problem_naming_the_field(api: httpx.AsyncClient) -> None:
    body = custom_api_connection()
    del body["config"]["api_base_url"]
    response = await api.post("/api/connections", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "api_base_url" in response.text
    assert SECRET not in response.text


async def test_missing_api_key_is_refused(gateway_url: str) -> None:
    async with httpx.AsyncClient(base_url=gateway_url) as anonymous:
        response = await anonymous.get("/api/connections")
    assert response.status_code == 401
    assert response.json()["title"] == "Unauthorized"


async def test_the_connection_limit_holds_under_concurrent_creates(
    gateway_url: str, pool: asyncpg.Pool[Any], settings: Any
) -> None:
    _org_id, api_key = await create_org(pool, "limit-org")
    limit = settings.max_connections_per_org
    async with httpx.AsyncClient(
        base_url=gateway_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=30
    ) as org:
        for index in range(limit - 3):
            assert (
                await org.post("/api/connections", json=custom_api_connection(f"c{index}"))
            ).status_code == 201
        racing = await asyncio.gather(
            *(org.post("/api/connections", json=custom_api_connection(f"race{index}")) for index in range(5))
        )
        listed = (await org.get("/api/connections")).json()
    codes = sorted(response.status_code for response in racing)
    assert codes == [201, 201, 201, 409, 409]
    assert len(listed) == limit
    refused = next(response for response in racing if response.status_code == 409)
    assert str(limit) in refused.json()["detail"]


async def test_readyz_reports_postgres_and_kafka(gateway_url: str) -> None:
    async with httpx.AsyncClient(base_url=gateway_url) as client:
        response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"postgres": "ok", "kafka": "ok"}


def inbound_connection(**config: Any) -> dict[str, Any]:
    """An inbound connection with the guide's InboundConfig fields, as a client would send it."""
    return {
        "name": "Acme DMP",
        "platform": "custom_api",
        "direction": "inbound",
        "authType": "bearer",
        "authCredentials": {"api_key": SECRET},
        "config": {
            "base_url": "http://127.0.0.1:9/segments",
            "response_path": "data.items",
            "field_mappings": [{"source": "segment_name", "target": "topic_name"}],
            "source_id_field": "id",
            **config,
        },
    }


async def test_the_guides_inbound_config_is_accepted_as_written(api: httpx.AsyncClient) -> None:
    guide_config = {
        "response_path": "$.result.data.items",
        "count_endpoint": "/segments/count",
        "count_response_path": "$.meta.total",
        "pagination_type": "cursor",
        "pagination_params": {"cursor_param": "cursor", "page_size": 100},
        "sync_mode": "incremental",
        "incremental_field": "updated_at",
        "field_mappings": [
            {"source": "segment_name", "target": "topic_name"},
            {"source": "$.category.name", "target": "parent_category"},
            {"source": "external_id", "target": "external_id"},
        ],
    }
    created = await api.post("/api/connections", json=inbound_connection(**guide_config))
    assert created.status_code == 201, created.text
    stored = (await api.get(f"/api/connections/{created.json()['id']}")).json()["config"]
    assert {key: stored[key] for key in guide_config} == guide_config


async def test_a_bidirectional_connection_takes_both_directions_keys(api: httpx.AsyncClient) -> None:
    body = inbound_connection(api_base_url="http://127.0.0.1:9/custom", default_cpm=2.5, currency="USD")
    body["direction"] = "bidirectional"
    assert (await api.post("/api/connections", json=body)).status_code == 201
    body["config"]["rate_limt_rps"] = 5
    refused = await api.post("/api/connections", json=body)
    assert refused.status_code == 422
    [error] = refused.json()["errors"]
    assert error["field"] == "config.rate_limt_rps"
    # The allowed keys listed are both directions'.
    assert "rate_limit_rps" in error["message"]
    assert "response_path" in error["message"]


async def test_numbers_sent_as_text_are_stored_as_numbers(api: httpx.AsyncClient) -> None:
    body = custom_api_connection()
    body["config"].update(default_cpm="2.0", max_concurrency="4")
    created = await api.post("/api/connections", json=body)
    assert created.status_code == 201, created.text
    assert {key: created.json()["config"][key] for key in ("default_cpm", "max_concurrency")} == {
        "default_cpm": 2.0,
        "max_concurrency": 4,
    }


def _outbound(**config: Any) -> dict[str, Any]:
    body = custom_api_connection()
    body["config"].update(config)
    return body


def _without_credentials(credentials: Any) -> dict[str, Any]:
    body = custom_api_connection(authType="bearer")
    if credentials == "omitted":
        del body["authCredentials"]
    else:
        body["authCredentials"] = credentials
    return body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_outbound(rate_limt_rps=5), "config.rate_limt_rps"),
        (_outbound(default_cpm="two"), "config.default_cpm"),
        (_outbound(api_base_url="/custom"), "config.api_base_url"),
        (_outbound(api_base_url="ftp://127.0.0.1/custom"), "config.api_base_url"),
        (_outbound(token_url="token"), "config.token_url"),
        (_without_credentials("omitted"), "authCredentials.api_key"),
        (_without_credentials(None), "authCredentials.api_key"),
        (inbound_connection(base_url="/segments"), "config.base_url"),
        (inbound_connection(count_endpoint="file:///etc/passwd"), "config.count_endpoint"),
        (inbound_connection(response_path="$.result.data["), "config.response_path"),
        (inbound_connection(response_path="$..items"), "config.response_path"),
        (
            inbound_connection(field_mappings=[{"source": "$.a[*]", "target": "topic_name"}]),
            "config.field_mappings.0.source",
        ),
        (inbound_connection(sync_mode="incremental"), "config.incremental_field"),
        (
            inbound_connection(
                response_path="", pagination_type="cursor", pagination_params={"cursor_param": "c"}
            ),
            "config.pagination_params.cursor_response_path",
        ),
        (
            inbound_connection(default_cpm=2.0),
            "config.default_cpm",
        ),  # an outbound key on an inbound connection
    ],
)
async def test_a_config_that_cannot_run_is_refused_on_save_naming_the_field(
    api: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    response = await api.post("/api/connections", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in [error["field"] for error in response.json()["errors"]]
    assert SECRET not in response.text
    assert (await api.get("/api/connections")).json() == []


async def test_an_output_template_key_must_name_one_of_the_orgs_templates(api: httpx.AsyncClient) -> None:
    refused = await api.post("/api/connections", json=_outbound(output_template_key="acme"))
    assert refused.status_code == 422
    assert [error["field"] for error in refused.json()["errors"]] == ["config.output_template_key"]
    template = {"key": "acme", "pathFields": ["name"]}
    assert (await api.post("/api/output-templates", json=template)).status_code == 201
    assert (await api.post("/api/connections", json=_outbound(output_template_key="acme"))).status_code == 201


async def test_an_update_is_checked_like_a_create(api: httpx.AsyncClient) -> None:
    created = (await api.post("/api/connections", json=custom_api_connection())).json()
    update = _outbound(max_concurency=2)
    del update["authCredentials"]  # kept: not what is refused
    response = await api.put(f"/api/connections/{created['id']}", json=update)
    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["config.max_concurency"]
