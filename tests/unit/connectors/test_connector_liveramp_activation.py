"""LiveRamp: each Data Marketplace segment is built on its topic's own first-party segment when the
connection names the topic attribute that holds it (`activation_segment_attribute`), else on the
connection's `activation_segment_id`; a topic with neither fails alone, before any call."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from services.push_worker.execute import RunContext, execute_batch
from services.push_worker.plan import plan_push
from shared.connections.config import check_connection
from shared.connectors import ConnectorConfigError, PlatformError
from shared.connectors.errors import ErrorClass
from shared.db.topics import Topic
from shared.messages import ItemOutcome
from shared.output_templates import RenderedSegment
from tests.unit.connectors.connector_fakes import FakeSleep
from tests.unit.connectors.test_connector_liveramp import (
    CONFIG,
    CREDENTIALS,
    PARAMS,
    FakeLiveRamp,
    client_for,
)

PER_TOPIC = {**CONFIG, "activation_segment_attribute": "lr_activation_segment"}


def _sent_activation_segments(liveramp: FakeLiveRamp) -> list[Any]:
    return [
        json.loads(request.content)["activationSegmentId"]
        for request in liveramp.server.requests
        if request.method == "POST" and request.url.path.endswith("/v1/segments")
    ]


async def test_a_topic_with_its_own_activation_segment_is_built_on_it(fake_sleep: FakeSleep) -> None:
    liveramp = FakeLiveRamp()
    client = client_for(liveramp, fake_sleep, config=PER_TOPIC)
    await client.create_segment(
        PARAMS.model_copy(update={"attributes": {"lr_activation_segment": "fp-travel"}})
    )
    await client.create_segment(PARAMS.model_copy(update={"attributes": {"lr_activation_segment": 9001}}))
    await client.create_segment(PARAMS.model_copy(update={"attributes": {"other": "x"}}))  # falls back
    assert _sent_activation_segments(liveramp) == ["fp-travel", "9001", "fp-123"]


async def test_without_a_connection_default_a_topic_lacking_the_attribute_fails_before_any_call(
    fake_sleep: FakeSleep,
) -> None:
    liveramp = FakeLiveRamp()
    config = {key: value for key, value in PER_TOPIC.items() if key != "activation_segment_id"}
    client = client_for(liveramp, fake_sleep, config=config)
    for blank in ({}, {"lr_activation_segment": "  "}, {"lr_activation_segment": True}):
        with pytest.raises(PlatformError) as caught:
            await client.create_segment(PARAMS.model_copy(update={"attributes": blank}))
        assert caught.value.error_class is ErrorClass.PERMANENT
        assert "lr_activation_segment" in caught.value.message
        assert caught.value.attempts == 0
    assert _sent_activation_segments(liveramp) == []
    await client.create_segment(PARAMS.model_copy(update={"attributes": {"lr_activation_segment": "fp-1"}}))
    assert _sent_activation_segments(liveramp) == ["fp-1"]


def test_a_connection_names_an_activation_segment_or_the_attribute_holding_each_topics() -> None:
    without_either = {key: value for key, value in CONFIG.items() if key != "activation_segment_id"}
    with pytest.raises(ConnectorConfigError) as caught:
        check_connection("liveramp", "outbound", "oauth2", CREDENTIALS, without_either)
    reasons = dict(caught.value.field_errors)
    assert "activation_segment_attribute" in reasons["config.activation_segment_id"]
    check_connection(
        "liveramp",
        "outbound",
        "oauth2",
        CREDENTIALS,
        {**without_either, "activation_segment_attribute": "lr"},
    )


async def test_a_push_batch_builds_each_topics_segment_on_its_own_activation_segment(
    fake_sleep: FakeSleep,
) -> None:
    liveramp = FakeLiveRamp()
    client = client_for(liveramp, fake_sleep, config=PER_TOPIC)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    org = uuid.uuid4()
    topics = [
        Topic(
            uuid.uuid4(),
            org,
            name,
            None,
            ["Travel", name],
            "",
            None,
            None,
            None,
            attributes,
            "active",
            now,
            now,
        )
        for name, attributes in (("Flyers", {"lr_activation_segment": "fp-flyers"}), ("Cruises", {}))
    ]
    run_id = uuid.uuid4()
    items = plan_push(
        run_id=run_id,
        connection_id=uuid.uuid4(),
        topics=topics,
        deactivate=[],
        activations={},
        render=lambda topic: RenderedSegment(name=topic.name, description=""),
        default_cpm=2.0,
        currency="USD",
    )
    context = RunContext(run_id=run_id, org_id=org, currency="USD", data_source_location="", attempt=1)
    result = await execute_batch(context, items, client, concurrency=2)
    assert [event.outcome for event in result.events] == [ItemOutcome.CREATED, ItemOutcome.CREATED]
    made = {segment["name"]: segment["activationSegmentId"] for segment in liveramp.segments.values()}
    assert made == {"Flyers": "fp-flyers", "Cruises": "fp-123"}
