"""A moved topic pushed to The Trade Desk's fake: a new element under the new containers, the old one
deactivated, the ledger row carrying the new path and the replaced element."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from services.mock_platforms import MockState, build_app
from services.mock_platforms.faults import FaultSpec
from services.mock_platforms.platforms import Platform
from services.push_worker.execute import RunContext, execute_batch
from services.push_worker.plan import Action, PlannedItem, plan_push
from shared.connectors import ConnectorDeps, HttpSettings, PlatformClient, create_platform_client
from shared.connectors.platforms.tradedesk_tree import container_id, reset_container_cache
from shared.connectors.protocol import FixedParentPlatformClient
from shared.db.activations import Activation, ActivationWrite
from shared.db.topics import Topic
from shared.messages import ItemOutcome
from shared.output_templates import RenderedSegment
from tests.unit.connectors.connector_fakes import FakeSleep
from tests.unit.connectors.tradedesk_fakes import CONFIG

CONNECTION = uuid.uuid4()
NOW = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fresh_container_cache() -> Iterator[None]:
    reset_container_cache()
    yield
    reset_container_cache()


@pytest.fixture
def state() -> MockState:
    return MockState()


@pytest.fixture
def client(state: MockState) -> PlatformClient:
    return create_platform_client(
        "tradedesk",
        "bearer",
        {"api_key": "ttd-token-abcdef"},
        {**CONFIG, "api_base_url": "http://mock/ttd"},
        settings=HttpSettings(),
        deps=ConnectorDeps(transport=httpx.ASGITransport(app=build_app(state)), sleep=FakeSleep()),
    )


def _render(topic: Topic) -> RenderedSegment:
    return RenderedSegment(name=topic.name, description="")


def _topic(topic_id: uuid.UUID, path: list[str]) -> Topic:
    return Topic(topic_id, uuid.uuid4(), "Sedans", None, path, "", None, None, None, {}, "active", NOW, NOW)


def _held(write: ActivationWrite, run_id: uuid.UUID, before: Activation | None) -> Activation:
    """The ledger row after `write` as record_activations leaves it, once the run confirmed its pending writes."""
    replaced = before.replaced_segment_ids if before else ()
    return Activation(
        write.topic_id,
        write.platform_segment_id,
        write.content_hash,
        "active" if write.state == "pending" else write.state,
        run_id,
        write.outcome,
        platform_path=write.platform_path or (before.platform_path if before else None),
        replaced_segment_ids=(*replaced, write.replaces) if write.replaces else replaced,
    )


async def _push(
    client: PlatformClient, topic: Topic, ledger: dict[uuid.UUID, Activation]
) -> tuple[PlannedItem, ItemOutcome, ActivationWrite | None]:
    run_id = uuid.uuid4()
    [item] = plan_push(
        run_id=run_id,
        connection_id=CONNECTION,
        topics=[topic],
        deactivate=[],
        activations=ledger,
        render=_render,
        default_cpm=1.0,
        currency="USD",
        moves=isinstance(client, FixedParentPlatformClient),
    )
    context = RunContext(
        run_id=run_id, org_id=topic.org_id, currency="USD", data_source_location="", attempt=1
    )
    result = await execute_batch(context, [item], client, concurrency=4)
    [event] = result.events
    write = result.ledger[0] if result.ledger else None  # an unchanged item writes nothing
    if write is not None:
        ledger[topic.id] = _held(write, run_id, ledger.get(topic.id))
    return item, event.outcome, write


def _element(state: MockState, element_id: str) -> dict[str, Any]:
    return state.tradedesk.elements[("acme", element_id)]


async def test_a_moved_topic_gets_a_new_element_under_its_new_path_and_the_old_one_is_deactivated(
    state: MockState, client: PlatformClient
) -> None:
    topic_id = uuid.uuid4()
    ledger: dict[uuid.UUID, Activation] = {}
    created, outcome, write = await _push(client, _topic(topic_id, ["Autos", "Cars", "Sedans"]), ledger)
    assert write is not None
    assert (created.action, outcome, write.platform_path) == (
        Action.CREATE,
        ItemOutcome.CREATED,
        ("Autos", "Cars"),
    )
    old_id = str(write.platform_segment_id)
    assert _element(state, old_id)["ParentElementId"] == container_id("acme", "ROOT", ["Autos", "Cars"])

    moved, outcome, write = await _push(client, _topic(topic_id, ["Autos", "Family", "Sedans"]), ledger)
    assert write is not None
    assert (moved.action, outcome) == (Action.MOVE, ItemOutcome.UPDATED)
    new_id = str(write.platform_segment_id)
    assert new_id != old_id
    assert (write.platform_path, write.replaces) == (("Autos", "Family"), old_id)
    new, old = _element(state, new_id), _element(state, old_id)
    assert new["ParentElementId"] == container_id("acme", "ROOT", ["Autos", "Family"])
    assert (new["Buyable"], new["DisplayName"]) == (True, "Sedans")
    assert old["Buyable"] is False
    assert old["ParentElementId"] == container_id("acme", "ROOT", ["Autos", "Cars"])  # never re-parented
    assert state.tradedesk.rates[("acme", new_id)]["CPMRate"]["Amount"] == 1.0

    again, outcome, _ = await _push(client, _topic(topic_id, ["Autos", "Family", "Sedans"]), ledger)
    assert (again.action, outcome) == (Action.UNCHANGED, ItemOutcome.SKIPPED)
    assert ledger[topic_id].replaced_segment_ids == (old_id,)


async def test_a_move_whose_old_element_cannot_be_deactivated_fails_and_is_moved_again_next_run(
    state: MockState, client: PlatformClient
) -> None:
    topic_id = uuid.uuid4()
    ledger: dict[uuid.UUID, Activation] = {}
    _, _, write = await _push(client, _topic(topic_id, ["Autos", "Cars", "Sedans"]), ledger)
    assert write is not None
    old_id = str(write.platform_segment_id)
    # The old element's name is one the platform now refuses: deactivating it (a PUT of it) fails.
    _element(state, old_id)["DisplayName"] = "Refused"
    state.platforms[Platform.TRADEDESK].faults.install(FaultSpec(reject_names=["Refused"]))
    moved, outcome, write = await _push(client, _topic(topic_id, ["Autos", "Family", "Sedans"]), ledger)
    assert (moved.action, outcome) == (Action.MOVE, ItemOutcome.FAILED)
    assert write is not None
    assert write.platform_segment_id == old_id  # the ledger keeps the old element and its path
    assert ledger[topic_id].platform_path == ("Autos", "Cars")
    assert _element(state, old_id)["Buyable"] is True

    state.platforms[Platform.TRADEDESK].faults.clear()
    retried, outcome, write = await _push(client, _topic(topic_id, ["Autos", "Family", "Sedans"]), ledger)
    assert write is not None
    assert (retried.action, outcome, write.replaces) == (Action.MOVE, ItemOutcome.UPDATED, old_id)
    assert _element(state, old_id)["Buyable"] is False
    assert _element(state, str(write.platform_segment_id))["Buyable"] is True


def test_the_trade_desk_is_a_platform_whose_segments_cannot_change_parent(client: PlatformClient) -> None:
    assert isinstance(client, FixedParentPlatformClient)
    custom = create_platform_client(
        "custom_api",
        "none",
        None,
        {"api_base_url": "https://api.example", "default_cpm": 1.0, "currency": "USD"},
        settings=HttpSettings(),
        deps=ConnectorDeps(),
    )
    assert not isinstance(custom, FixedParentPlatformClient)
