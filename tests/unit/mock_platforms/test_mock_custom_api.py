"""The Custom API fake answers the shapes of docs/platform-wire.md and counts creates per key."""

from __future__ import annotations

import httpx
import pytest

SEGMENT = {
    "name": "Auto Intenders",
    "description": "In market for a car",
    "price": 1.5,
    "currency": "USD",
    "data_source_location": "US",
}


async def test_health_is_open_until_a_tenant_is_registered(client: httpx.AsyncClient) -> None:
    response = await client.get("/custom/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"X-API-Key": "wrong"}, 401),
        ({"Authorization": "Bearer wrong"}, 401),
        ({"X-API-Key": "key-1"}, 200),
        ({"Authorization": "Bearer key-1"}, 200),
    ],
)
async def test_api_key_and_bearer_auth(
    client: httpx.AsyncClient, headers: dict[str, str], status: int
) -> None:
    await client.post("/admin/tenants", json={"platform": "custom_api", "credentials": {"api_key": "key-1"}})
    response = await client.get("/custom/health", headers=headers)
    assert response.status_code == status
    if status == 401:
        assert response.json()["error"] == "unauthorized"


async def test_header_auth_needs_every_registered_header(client: httpx.AsyncClient) -> None:
    credentials = {"X-Partner": "acme", "X-Secret": "s3"}
    await client.post("/admin/tenants", json={"platform": "custom", "credentials": credentials})
    assert (await client.get("/custom/health", headers={"X-Partner": "acme"})).status_code == 401
    assert (await client.get("/custom/health", headers=credentials)).status_code == 200


async def test_create_then_repeat_with_same_idempotency_key(client: httpx.AsyncClient) -> None:
    first = await client.post("/custom/segments", json=SEGMENT, headers={"Idempotency-Key": "topic-1"})
    again = await client.post("/custom/segments", json=SEGMENT, headers={"Idempotency-Key": "topic-1"})

    assert first.status_code == 201
    created = first.json()
    assert set(created) == {"id", "name", "description", "price", "currency", "status"}
    assert created["status"] == "active"
    assert again.status_code == 200
    assert again.json() == created
    stats = (await client.get("/admin/stats/custom_api")).json()
    assert stats["segments"] == 1
    assert stats["creates_by_key"] == {"topic-1": 2}
    assert stats["duplicates"] == 1


async def test_update_get_and_deactivate(client: httpx.AsyncClient) -> None:
    segment_id = (await client.post("/custom/segments", json=SEGMENT)).json()["id"]

    updated = await client.put(
        f"/custom/segments/{segment_id}", json={"name": "Car Buyers", "description": "d"}
    )
    deleted = await client.delete(f"/custom/segments/{segment_id}")
    fetched = await client.get(f"/custom/segments/{segment_id}")

    assert updated.status_code == 200
    assert updated.json()["name"] == "Car Buyers"
    assert updated.json()["price"] == 1.5
    assert deleted.status_code == 204
    assert fetched.json() == {
        "id": segment_id,
        "name": "Car Buyers",
        "status": "inactive",
        "price": 1.5,
        "currency": "USD",
    }


async def test_unknown_segment_is_404(client: httpx.AsyncClient) -> None:
    for response in (
        await client.get("/custom/segments/nope"),
        await client.put("/custom/segments/nope", json={"name": "x"}),
        await client.delete("/custom/segments/nope"),
    ):
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"


@pytest.mark.parametrize(
    "change",
    [{"name": ""}, {"name": "   "}, {"name": "x" * 256}, {"price": -1}, {"currency": "DOLLARS"}],
)
async def test_invalid_segment_is_a_400(client: httpx.AsyncClient, change: dict[str, object]) -> None:
    response = await client.post("/custom/segments", json={**SEGMENT, **change})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert response.json()["message"]


async def test_body_that_is_not_json_is_a_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/custom/segments", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_name_at_the_255_limit_is_accepted(client: httpx.AsyncClient) -> None:
    response = await client.post("/custom/segments", json={**SEGMENT, "name": "x" * 255})
    assert response.status_code == 201
