"""Reconcile planning: a topic is planned against what the platform answered when read back."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from services.push_worker.plan import Action, Drift, Observed, PlannedItem, content_hash, plan_push
from shared.connectors.errors import ErrorClass, PlatformError
from shared.connectors.protocol import PlatformSegment
from shared.db.activations import Activation
from shared.db.topics import Topic
from shared.output_templates import RenderedSegment

RUN = uuid.uuid4()
CONNECTION = uuid.uuid4()
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _topic(name: str) -> Topic:
    return Topic(uuid.uuid4(), uuid.uuid4(), name, None, [], "", None, None, None, {}, "active", NOW, NOW)


def _render(topic: Topic) -> RenderedSegment:
    return RenderedSegment(name=topic.name, description="")


def _pushed(topic: Topic) -> Activation:
    """The ledger row of a topic pushed as it is now by an earlier run."""
    digest = content_hash(_render(topic), 1.0, "USD")
    return Activation(topic.id, f"seg-{topic.name}", digest, "active", uuid.uuid4(), "created")


def _planned(topic: Topic, observed: PlatformSegment | PlatformError | None) -> PlannedItem:
    seen: Observed = {topic.id: observed}
    [item] = plan_push(
        run_id=RUN,
        connection_id=CONNECTION,
        topics=[topic],
        deactivate=[],
        activations={topic.id: _pushed(topic)},
        render=_render,
        default_cpm=1.0,
        currency="USD",
        observed=seen,
    )
    return item


def _plan(topic: Topic, observed: PlatformSegment | PlatformError | None) -> tuple[Action, Drift | None, str]:
    item = _planned(topic, observed)
    return item.action, item.drift, item.reported_action


@pytest.mark.parametrize(
    ("status", "name", "expected"),
    [
        pytest.param("active", "Sports", (Action.UNCHANGED, None, "unchanged"), id="in-sync"),
        pytest.param("IN_REVIEW", "Sports", (Action.UNCHANGED, None, "unchanged"), id="in-review-is-live"),
        pytest.param("ACTIVE", "Sport!", (Action.UPDATE, Drift.RENAMED, "update:renamed"), id="renamed"),
        pytest.param(
            "DISABLED",
            "Sports",
            (Action.UNCHANGED, Drift.DEACTIVATED, "unchanged:deactivated"),
            id="disabled",
        ),
        pytest.param(
            "inactive",
            "Sport!",
            (Action.UNCHANGED, Drift.DEACTIVATED, "unchanged:deactivated"),
            id="off-wins",
        ),
    ],
)
def test_a_read_back_segment_is_planned_by_what_the_platform_holds(
    status: str, name: str, expected: tuple[Action, Drift | None, str]
) -> None:
    topic = _topic("Sports")
    assert _plan(topic, PlatformSegment(id="seg-Sports", name=name, status=status)) == expected


def test_a_missing_segment_is_created_again_under_a_key_of_this_run() -> None:
    item = _planned(_topic("Sports"), None)
    assert (item.action, item.drift, item.platform_segment_id) == (Action.CREATE, Drift.MISSING, None)
    # The platform's idempotent create would otherwise answer with the segment that is gone.
    assert item.external_key.endswith(RUN.hex[:8])


def test_an_unreadable_segment_is_left_alone_and_reported() -> None:
    topic = _topic("Sports")
    failure = PlatformError(ErrorClass.RETRYABLE, "timeout", status_code=None)
    assert _plan(topic, failure) == (Action.UNCHANGED, Drift.UNREADABLE, "unchanged:unreadable")


@pytest.mark.parametrize(
    ("cpms", "expected"),
    [
        pytest.param((), (Action.UNCHANGED, None, "unchanged"), id="price-not-shown"),
        pytest.param((1.0,), (Action.UNCHANGED, None, "unchanged"), id="same-price"),
        pytest.param((1.00001,), (Action.UNCHANGED, None, "unchanged"), id="within-4-decimals"),
        pytest.param((2.5,), (Action.UPDATE, Drift.PRICE_DIFFERS, "update:price_differs"), id="repriced"),
        pytest.param(
            (1.0, 0.2),
            (Action.UPDATE, Drift.PRICE_DIFFERS, "update:price_differs"),
            id="one-use-case-repriced",
        ),
    ],
)
def test_a_segment_priced_otherwise_on_the_platform_is_updated_back_to_the_pushed_price(
    cpms: tuple[float, ...], expected: tuple[Action, Drift | None, str]
) -> None:
    topic = _topic("Sports")
    assert (
        _plan(topic, PlatformSegment(id="seg-Sports", name="Sports", status="active", cpms=cpms)) == expected
    )


def test_a_renamed_and_repriced_segment_is_reported_renamed_and_one_update_repairs_both() -> None:
    topic = _topic("Sports")
    item = _planned(topic, PlatformSegment(id="seg-Sports", name="Sport!", status="active", cpms=(9.0,)))
    assert (item.action, item.drift, item.name, item.cpm) == (Action.UPDATE, Drift.RENAMED, "Sports", 1.0)
