"""A failed item's record says how many times the platform was called for it, retries included."""

from __future__ import annotations

import json
import uuid

import httpx

from services.push_worker.execute import RunContext, abandoned_events, execute_batch
from services.push_worker.plan import Action, PlannedItem
from shared.connectors import ConnectorDeps, ErrorClass, HttpSettings, PlatformError, create_platform_client
from shared.messages import ItemOutcome
from tests.unit.connectors.connector_fakes import FakeSleep, ScriptedPlatform

CONTEXT = RunContext(
    run_id=uuid.uuid4(), org_id=uuid.uuid4(), currency="USD", data_source_location="", attempt=1
)


def _item(name: str) -> PlannedItem:
    return PlannedItem(
        topic_id=uuid.uuid4(),
        action=Action.CREATE,
        name=name,
        description="",
        cpm=1.0,
        content_hash="h",
        platform_segment_id=None,
        external_key=f"key-{name}",
    )


async def test_an_item_failing_503_three_times_records_attempt_3() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if json.loads(request.content)["name"] == "down":
            return httpx.Response(503, json={"message": "maintenance"})
        return httpx.Response(201, json={"id": "seg-1"})

    platform = ScriptedPlatform(answer)
    client = create_platform_client(
        "custom_api",
        "none",
        None,
        {"api_base_url": "https://api.example", "default_cpm": 1.0, "currency": "USD"},
        settings=HttpSettings(max_attempts=3),
        deps=ConnectorDeps(transport=platform.transport, sleep=FakeSleep()),
    )
    result = await execute_batch(CONTEXT, [_item("down"), _item("up")], client, concurrency=1)
    await client.aclose()

    failed, created = result.events
    assert (failed.outcome, failed.error_code, failed.attempt) == (ItemOutcome.FAILED, "retryable:503", 3)
    assert created.outcome is ItemOutcome.CREATED
    assert len(platform.requests) == 4


def test_an_item_not_attempted_after_an_auth_refusal_records_attempt_0() -> None:
    refusal = PlatformError(ErrorClass.AUTH, "HTTP 401: bad key", status_code=401)
    [event] = abandoned_events(CONTEXT, [_item("later")], refusal)
    assert (event.outcome, event.attempt) == (ItemOutcome.FAILED, 0)
