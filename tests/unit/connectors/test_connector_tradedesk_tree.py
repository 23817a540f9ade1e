"""The Trade Desk client builds TTD's element tree from a topic's ancestors, against the mock platform: containers
before their children, each made once per process, ids stable per path, and about one call per created leaf."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
import pytest

from services.mock_platforms import MockState, build_app
from services.mock_platforms.platforms import Platform
from shared.connectors import (
    ConnectorDeps,
    CreateSegmentParams,
    ErrorClass,
    HttpSettings,
    PlatformClient,
    PlatformError,
    UpdateSegmentParams,
    create_platform_client,
)
from shared.connectors.batch import CreateOperation, DeactivateOperation, apply_batch
from shared.connectors.platforms.tradedesk_tree import container_id, reset_container_cache
from shared.connectors.taxonomy_path import ancestors_of
from tests.unit.connectors.connector_fakes import FakeSleep, ScriptedPlatform
from tests.unit.connectors.tradedesk_fakes import CONFIG

ELEMENTS = "/ttd/v3/thirdpartydata"
# What the push worker hands a client at once (ACTIVATION_BATCH_SIZE) and TTD's advised concurrency.
PUSH_BATCH = 25
CONCURRENCY = 4


class RecordingMock(httpx.AsyncBaseTransport):
    """The mock platforms in-process, keeping every request; each request yields once, as over a network."""

    def __init__(self, state: MockState) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self._app = httpx.ASGITransport(app=build_app(state))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        self.calls.append((request.method, request.url.path, body))
        await asyncio.sleep(0)
        return await self._app.handle_async_request(request)

    def container_posts(self) -> Counter[str]:
        return Counter(
            body["ProviderElementId"]
            for method, path, body in self.calls
            if (method, path) == ("POST", ELEMENTS) and body["Buyable"] is False
        )


@pytest.fixture(autouse=True)
def _fresh_container_cache() -> Iterator[None]:
    reset_container_cache()
    yield
    reset_container_cache()


@pytest.fixture
def state() -> MockState:
    return MockState()


@pytest.fixture
def mock(state: MockState) -> RecordingMock:
    return RecordingMock(state)


def client_on(transport: httpx.AsyncBaseTransport, sleep: FakeSleep) -> PlatformClient:
    return create_platform_client(
        "tradedesk",
        "bearer",
        {"api_key": "ttd-token-abcdef"},
        {**CONFIG, "api_base_url": "http://mock/ttd"},
        settings=HttpSettings(),
        deps=ConnectorDeps(transport=transport, sleep=sleep),
    )


def leaf(key: str, ancestors: Sequence[str] | str = ()) -> CreateSegmentParams:
    return CreateSegmentParams(
        name=f"Leaf {key}", description="", cpm=1.0, currency="USD", external_key=key, ancestors=ancestors
    )


def three_levels(tops: int, mids: int, leaves: int) -> list[CreateSegmentParams]:
    return [
        leaf(f"t{t}-m{m}-l{n}", [f"Top {t}", f"Mid {m}"])
        for t in range(tops)
        for m in range(mids)
        for n in range(leaves)
    ]


async def push(client: PlatformClient, segments: list[CreateSegmentParams]) -> None:
    # As the push worker does: batches of ACTIVATION_BATCH_SIZE, each priced in one data-rate call.
    for start in range(0, len(segments), PUSH_BATCH):
        batch = [CreateOperation(params) for params in segments[start : start + PUSH_BATCH]]
        outcomes = await apply_batch(client, batch, concurrency=CONCURRENCY)
        assert [outcome.error for outcome in outcomes] == [None] * len(batch)


def element_of(state: MockState, element_id: str) -> dict[str, Any]:
    return state.tradedesk.elements[("acme", element_id)]


async def test_a_three_level_taxonomy_hangs_leaves_under_containers_made_first(
    state: MockState, mock: RecordingMock, fake_sleep: FakeSleep
) -> None:
    await push(client_on(mock, fake_sleep), three_levels(tops=2, mids=3, leaves=10))

    order = state.tradedesk.element_order["acme"]
    elements = [element_of(state, element_id) for element_id in order]
    containers = [element for element in elements if not element["Buyable"]]
    assert len(containers) == 2 + 2 * 3
    assert len(elements) - len(containers) == 60
    for element in elements:
        parent = element["ParentElementId"]
        assert parent == "ROOT" or order.index(parent) < order.index(element["ProviderElementId"])
    suv = element_of(state, "t1-m2-l9")
    mid = element_of(state, suv["ParentElementId"])
    top = element_of(state, mid["ParentElementId"])
    assert (mid["DisplayName"], mid["Buyable"], top["DisplayName"], top["ParentElementId"]) == (
        "Mid 2",
        False,
        "Top 1",
        "ROOT",
    )
    assert set(mock.container_posts().values()) == {1}, "each container is created once"
    # Containers are not for sale: no data rate names one.
    priced = {
        rate["ProviderElementId"]
        for _, path, body in mock.calls
        if path.endswith("/batch")
        for rate in body["DataRates"]
    }
    assert priced.isdisjoint(container["ProviderElementId"] for container in containers)


async def test_concurrent_leaves_under_one_new_container_create_it_once(
    state: MockState, mock: RecordingMock, fake_sleep: FakeSleep
) -> None:
    operations = [CreateOperation(leaf(f"car-{n}", ["Automotive", "Cars"])) for n in range(40)]
    outcomes = await apply_batch(client_on(mock, fake_sleep), operations, concurrency=8)

    assert all(outcome.succeeded for outcome in outcomes)
    assert sorted(mock.container_posts().values()) == [1, 1]
    assert len(mock.calls) == 2 + 40 + 1


async def test_calls_per_created_leaf_stay_under_1_1_for_a_three_level_taxonomy(
    state: MockState, mock: RecordingMock, fake_sleep: FakeSleep
) -> None:
    # 3 top containers x 4 middle containers x 25 leaves: 300 leaves, 15 containers, 12 push batches.
    await push(client_on(mock, fake_sleep), three_levels(tops=3, mids=4, leaves=25))

    created = len(state.tradedesk.elements)
    assert created == 315
    assert len(mock.calls) == 300 + 15 + 12
    assert len(mock.calls) / 300 <= 1.1  # 1.09 per leaf
    assert len(mock.calls) / created <= 1.1  # 1.04 per element created, containers included


async def test_a_later_process_finds_the_containers_by_their_stable_ids(
    state: MockState, mock: RecordingMock, fake_sleep: FakeSleep
) -> None:
    await push(client_on(mock, fake_sleep), [leaf("first", ["Automotive", "Cars"])])
    reset_container_cache()  # a new push worker process
    mock.calls.clear()

    await push(client_on(mock, fake_sleep), [leaf("second", "Automotive > Cars")])

    assert element_of(state, "second")["ParentElementId"] == element_of(state, "first")["ParentElementId"]
    # Each container's create answered "already exists", recognised without a PUT; then the leaf and its rate.
    assert [(method, path) for method, path, _ in mock.calls] == [
        ("POST", ELEMENTS),
        ("POST", ELEMENTS),
        ("POST", ELEMENTS),
        ("POST", "/ttd/v3/datarate/batch"),
    ]
    assert state.platforms[Platform.TRADEDESK].stats.duplicates == 2


async def test_containers_remembered_but_gone_from_the_platform_are_made_again(
    state: MockState, mock: RecordingMock, fake_sleep: FakeSleep
) -> None:
    client = client_on(mock, fake_sleep)
    await push(client, [leaf("first", ["Automotive", "Cars"])])
    state.reset()  # the platform forgot everything; this process still trusts its containers

    await push(client, [leaf("second", ["Automotive", "Cars"])])

    parent = element_of(state, "second")["ParentElementId"]
    assert element_of(state, parent)["DisplayName"] == "Cars"


async def test_a_new_container_under_a_remembered_but_gone_one_makes_both_again(
    state: MockState, mock: RecordingMock, fake_sleep: FakeSleep
) -> None:
    client = client_on(mock, fake_sleep)
    await push(client, [leaf("first", ["Automotive", "Cars"])])
    state.reset()  # the platform forgot "Automotive"; this process still trusts it

    await push(client, [leaf("second", ["Automotive", "Trucks"])])  # "Trucks" is new, under "Automotive"

    parent = element_of(state, "second")["ParentElementId"]
    assert element_of(state, parent)["DisplayName"] == "Trucks"
    assert element_of(state, element_of(state, parent)["ParentElementId"])["DisplayName"] == "Automotive"


def test_container_ids_are_stable_per_provider_parent_and_normalized_path() -> None:
    spaced = container_id("acme", "ROOT", ["Automotive", "Cars"])
    assert spaced == container_id("acme", "ROOT", ["Automotive", "Cars"])
    assert spaced != container_id("acme", "ROOT", ["Cars"])
    assert spaced != container_id("acme", "autos", ["Automotive", "Cars"])
    assert spaced != container_id("other", "ROOT", ["Automotive", "Cars"])
    assert spaced.startswith("act-c-")
    assert len(spaced) <= 512


async def test_the_same_names_spaced_differently_share_their_containers(
    state: MockState, mock: RecordingMock, fake_sleep: FakeSleep
) -> None:
    await push(
        client_on(mock, fake_sleep),
        [
            leaf("a", ["Automotive", "Cars"]),
            leaf("b", ["  Automotive ", "Cars  "]),
            leaf("c", "Automotive>Cars"),
        ],
    )
    parents = {element_of(state, key)["ParentElementId"] for key in ("a", "b", "c")}
    assert len(parents) == 1
    assert len(mock.container_posts()) == 2


async def test_a_topic_without_a_path_stays_under_the_configured_parent(
    state: MockState, mock: RecordingMock, fake_sleep: FakeSleep
) -> None:
    await push(client_on(mock, fake_sleep), [leaf("flat")])
    assert element_of(state, "flat")["ParentElementId"] == "ROOT"
    assert mock.container_posts() == Counter()


async def test_container_names_lose_what_ttd_forbids_and_an_overlong_one_fails_before_any_call(
    state: MockState, mock: RecordingMock, fake_sleep: FakeSleep
) -> None:
    client = client_on(mock, fake_sleep)
    await push(client, [leaf("w", ['Women\'s "Best"\tPicks ^ Top'])])
    parent = element_of(state, element_of(state, "w")["ParentElementId"])
    assert parent["DisplayName"] == "Women\u2019s \u201dBest\u201d Picks Top"

    mock.calls.clear()
    with pytest.raises(PlatformError) as caught:
        await client.create_segment(leaf("long", ["Automotive", "x" * 257]))
    assert caught.value.error_class is ErrorClass.PERMANENT
    assert caught.value.attempts == 0
    assert caught.value.message.startswith("invalid for The Trade Desk: container 'Automotive > xxx")
    assert "DisplayName must be 1-256 characters (has 257)" in caught.value.message
    assert mock.calls == []


async def test_an_update_keeps_the_element_under_the_parent_it_was_made_with(
    state: MockState, mock: RecordingMock, fake_sleep: FakeSleep
) -> None:
    client = client_on(mock, fake_sleep)
    await push(client, [leaf("flat"), leaf("tree", ["Automotive"])])
    container = element_of(state, "tree")["ParentElementId"]
    mock.calls.clear()

    same_path = UpdateSegmentParams(name="Tree v2", description="", ancestors=["Automotive"])
    await client.update_segment("tree", same_path)
    assert [(method, body["ParentElementId"]) for method, _, body in mock.calls] == [("PUT", container)]

    # Made under ROOT before its topic had a path: TTD refuses the move, so the content is updated in place.
    mock.calls.clear()
    await client.update_segment(
        "flat", UpdateSegmentParams(name="Flat v2", description="", ancestors=["Automotive"])
    )
    assert [method for method, _, _ in mock.calls] == ["PUT", "POST", "PUT"]
    assert (element_of(state, "flat")["DisplayName"], element_of(state, "flat")["ParentElementId"]) == (
        "Flat v2",
        "ROOT",
    )

    # A caller that sends no ancestors still reaches the element where it hangs.
    await client.update_segment("tree", UpdateSegmentParams(name="Tree v3", description=""))
    assert (element_of(state, "tree")["DisplayName"], element_of(state, "tree")["ParentElementId"]) == (
        "Tree v3",
        container,
    )


async def test_deactivating_a_leaf_keeps_it_under_its_container(
    state: MockState, mock: RecordingMock, fake_sleep: FakeSleep
) -> None:
    client = client_on(mock, fake_sleep)
    await push(client, [leaf("tree", ["Automotive", "Cars"])])
    container = element_of(state, "tree")["ParentElementId"]

    outcomes = await apply_batch(client, [DeactivateOperation("tree")], concurrency=1)

    assert outcomes[0].succeeded
    assert (element_of(state, "tree")["Buyable"], element_of(state, "tree")["ParentElementId"]) == (
        False,
        container,
    )


async def test_a_refused_container_fails_its_leaf_and_is_tried_again_by_the_next(
    fake_sleep: FakeSleep,
) -> None:
    refusals = [httpx.Response(400, json={"Message": "container refused"})]

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if request.url.path.endswith("/batch"):
            return httpx.Response(200, json={"BatchId": "b1"})
        if body.get("Buyable") is False and refusals:
            return refusals.pop()
        return httpx.Response(200, json=body)

    platform = ScriptedPlatform(handler)
    client = client_on(platform.transport, fake_sleep)
    with pytest.raises(PlatformError) as caught:
        await client.create_segment(leaf("first", ["Automotive"]))
    assert caught.value.message == "container 'Automotive': HTTP 400: container refused"
    assert await client.create_segment(leaf("second", ["Automotive"])) == "second"
    container_posts = [body for body in platform.bodies("/v3/thirdpartydata") if body["Buyable"] is False]
    assert len(container_posts) == 2


@pytest.mark.parametrize(
    ("path", "name", "expected"),
    [
        (["Automotive", "Auto Intenders"], "Auto Intenders", ("Automotive",)),
        (["Automotive"], "Auto Intenders", ("Automotive",)),
        (["Automotive", " Auto  Intenders "], "Auto Intenders", ("Automotive",)),
        (["Auto Intenders"], "Auto Intenders", ()),
        (["Automotive", "", "Cars"], "SUV", ("Automotive", "Cars")),
        ([], "SUV", ()),
    ],
)
def test_a_topics_ancestors_are_its_path_without_its_own_name(
    path: list[str], name: str, expected: tuple[str, ...]
) -> None:
    assert ancestors_of(path, name) == expected


def test_a_text_path_is_split_on_the_separator() -> None:
    assert leaf("k", "Automotive > Cars").ancestors == ("Automotive", "Cars")
