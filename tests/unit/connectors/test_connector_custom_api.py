"""Custom API client: the seed's REST shape, paths from config, idempotent creates."""

from __future__ import annotations

import json

import httpx
import pytest

from shared.connectors import (
    ConnectorDeps,
    CreateSegmentParams,
    ErrorClass,
    HttpSettings,
    PlatformClient,
    PlatformError,
    PlatformSegment,
    UpdateSegmentParams,
    create_platform_client,
)
from tests.unit.connectors.connector_fakes import FakeSleep, ScriptedPlatform, answers

CONFIG = {
    "api_base_url": "http://127.0.0.1:8090/custom",
    "default_cpm": 1.5,
    "currency": "USD",
    "segments_path": "/v2/audiences",
    "health_path": "/status",
}
PARAMS = CreateSegmentParams(
    name="Auto > SUV",
    description="Intenders",
    cpm=2.5,
    currency="USD",
    data_source_location="acme-dmp",
    external_key="conn1:topic42",
)


def client_for(platform: ScriptedPlatform, sleep: FakeSleep) -> PlatformClient:
    return create_platform_client(
        "custom_api",
        "api_key",
        {"api_key": "key-1"},
        CONFIG,
        settings=HttpSettings(),
        deps=ConnectorDeps(transport=platform.transport, sleep=sleep),
    )


async def test_create_posts_the_seed_body_with_idempotency_key(fake_sleep: FakeSleep) -> None:
    platform = ScriptedPlatform(answers(httpx.Response(201, json={"id": 9001, "status": "active"})))
    segment_id = await client_for(platform, fake_sleep).create_segment(PARAMS)
    assert segment_id == "9001"
    request = platform.requests[0]
    assert (request.method, request.url.path) == ("POST", "/custom/v2/audiences")
    assert request.headers["Idempotency-Key"] == "conn1:topic42"
    assert json.loads(request.content) == {
        "name": "Auto > SUV",
        "description": "Intenders",
        "price": 2.5,
        "currency": "USD",
        "data_source_location": "acme-dmp",
    }


async def test_repeated_create_after_a_lost_answer_reuses_the_key(fake_sleep: FakeSleep) -> None:
    platform = ScriptedPlatform(answers(httpx.Response(502), httpx.Response(200, json={"id": "seg-1"})))
    assert await client_for(platform, fake_sleep).create_segment(PARAMS) == "seg-1"
    assert [r.headers["Idempotency-Key"] for r in platform.requests] == ["conn1:topic42"] * 2
    assert fake_sleep.calls == [1.0]


async def test_create_without_an_id_in_the_answer_is_permanent(fake_sleep: FakeSleep) -> None:
    platform = ScriptedPlatform(answers(httpx.Response(201, json={"name": "x"})))
    with pytest.raises(PlatformError) as caught:
        await client_for(platform, fake_sleep).create_segment(PARAMS)
    assert caught.value.error_class is ErrorClass.PERMANENT


async def test_validation_failure_is_permanent_with_the_platform_message(fake_sleep: FakeSleep) -> None:
    body = {"error": "invalid_request", "message": "name longer than 255 characters"}
    platform = ScriptedPlatform(answers(httpx.Response(400, json=body)))
    with pytest.raises(PlatformError) as caught:
        await client_for(platform, fake_sleep).create_segment(PARAMS)
    assert caught.value.code == "permanent:400"
    assert caught.value.message == "HTTP 400: name longer than 255 characters"
    assert len(platform.requests) == 1


async def test_update_puts_name_description_and_price(fake_sleep: FakeSleep) -> None:
    platform = ScriptedPlatform(answers(httpx.Response(200, json={"id": "a/b"})))
    client = client_for(platform, fake_sleep)
    await client.update_segment("a/b", UpdateSegmentParams(name="N", description="D", cpm=3.0))
    await client.update_segment("a/b", UpdateSegmentParams(name="N", description="D"))
    assert platform.paths() == ["PUT /custom/v2/audiences/a%2Fb"] * 2
    assert platform.bodies("a%2Fb") == [
        {"name": "N", "description": "D", "price": 3.0},
        {"name": "N", "description": "D"},
    ]


async def test_update_of_unknown_segment_is_permanent(fake_sleep: FakeSleep) -> None:
    platform = ScriptedPlatform(answers(httpx.Response(404, json={"error": "not_found"})))
    with pytest.raises(PlatformError) as caught:
        await client_for(platform, fake_sleep).update_segment(
            "nope", UpdateSegmentParams(name="N", description="")
        )
    assert caught.value.code == "permanent:404"


async def test_deactivate_deletes(fake_sleep: FakeSleep) -> None:
    platform = ScriptedPlatform(answers(httpx.Response(204)))
    await client_for(platform, fake_sleep).deactivate_segment("seg-1")
    assert platform.paths() == ["DELETE /custom/v2/audiences/seg-1"]


async def test_get_reads_the_segment_or_none(fake_sleep: FakeSleep) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/seg-1"):
            return httpx.Response(200, json={"id": "seg-1", "name": "Auto", "status": "inactive"})
        return httpx.Response(404, json={"error": "not_found"})

    client = client_for(ScriptedPlatform(handler), fake_sleep)
    assert await client.get_segment("seg-1") == PlatformSegment(id="seg-1", name="Auto", status="inactive")
    assert await client.get_segment("seg-2") is None


async def test_get_surfaces_failures_other_than_not_found(fake_sleep: FakeSleep) -> None:
    platform = ScriptedPlatform(answers(httpx.Response(401, json={"error": "unauthorized"})))
    with pytest.raises(PlatformError) as caught:
        await client_for(platform, fake_sleep).get_segment("seg-1")
    assert caught.value.error_class is ErrorClass.AUTH


async def test_connection_test_uses_the_health_path(fake_sleep: FakeSleep) -> None:
    platform = ScriptedPlatform(answers(httpx.Response(200, json={"status": "ok"})))
    result = await client_for(platform, fake_sleep).test_connection()
    assert result.success is True
    assert result.error is None
    assert platform.paths() == ["GET /custom/status"]
    assert platform.requests[0].headers["X-API-Key"] == "key-1"


async def test_connection_test_reports_the_reason_instead_of_raising(fake_sleep: FakeSleep) -> None:
    body = {"error": "unauthorized", "message": "unknown API key"}
    platform = ScriptedPlatform(answers(httpx.Response(401, json=body)))
    result = await client_for(platform, fake_sleep).test_connection()
    assert result.success is False
    assert result.error == "HTTP 401: unknown API key"
