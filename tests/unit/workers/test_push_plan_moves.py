"""Planning a moved topic: on a platform whose segments cannot change parent (TTD), a new segment under the
new path replaces the old one; elsewhere, and where the ledger does not know the path, nothing moves."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from services.push_worker.plan import Action, PlannedItem, content_hash, external_key, moved_key, plan_push
from shared.db.activations import Activation
from shared.db.topics import Topic
from shared.output_templates import RenderedSegment

RUN = uuid.uuid4()
CONNECTION = uuid.uuid4()
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _topic(path: list[str], name: str = "Sedans") -> Topic:
    return Topic(uuid.uuid4(), uuid.uuid4(), name, None, path, "", None, None, None, {}, "active", NOW, NOW)


def _render(topic: Topic) -> RenderedSegment:
    return RenderedSegment(name=topic.name, description="")


def _pushed(topic: Topic, path: tuple[str, ...] | None, segment_id: str = "old-element") -> Activation:
    digest = content_hash(_render(topic), 1.0, "USD")
    return Activation(topic.id, segment_id, digest, "active", uuid.uuid4(), "created", platform_path=path)


def _plan(topic: Topic, activation: Activation | None, *, moves: bool = True) -> PlannedItem:
    [item] = plan_push(
        run_id=RUN,
        connection_id=CONNECTION,
        topics=[topic],
        deactivate=[],
        activations={} if activation is None else {topic.id: activation},
        render=_render,
        default_cpm=1.0,
        currency="USD",
        moves=moves,
    )
    return item


def test_a_topic_whose_path_changed_is_moved_to_a_new_segment_replacing_the_old() -> None:
    topic = _topic(["Autos", "Cars", "Sedans"])
    item = _plan(topic, _pushed(topic, ("Autos", "Trucks")))
    assert item.action is Action.MOVE
    assert item.ancestors == ("Autos", "Cars")
    assert item.replaces == "old-element"
    assert item.platform_segment_id == "old-element"
    assert item.external_key == moved_key(CONNECTION, topic.id, ("Autos", "Cars"))
    assert item.external_key != external_key(CONNECTION, topic.id)
    assert item.reported_action == "move"


def test_a_topic_in_the_place_its_segment_was_made_is_unchanged() -> None:
    topic = _topic(["Autos", "Cars", "Sedans"])
    assert _plan(topic, _pushed(topic, ("Autos", "Cars"))).action is Action.UNCHANGED
    # Spacing and Unicode forms name the same containers: not a move.
    assert _plan(topic, _pushed(topic, ("Autos ", "Cars"))).action is Action.UNCHANGED


def test_moving_out_of_every_container_is_a_move_too() -> None:
    topic = _topic([])
    item = _plan(topic, _pushed(topic, ("Autos",)))
    assert (item.action, item.ancestors) == (Action.MOVE, ())
    assert item.external_key == moved_key(CONNECTION, topic.id, ())


def test_platforms_whose_segments_can_change_parent_never_move() -> None:
    topic = _topic(["Autos", "Cars", "Sedans"])
    assert _plan(topic, _pushed(topic, ("Autos", "Trucks")), moves=False).action is Action.UNCHANGED


def test_a_ledger_row_without_a_known_path_is_not_moved() -> None:
    topic = _topic(["Autos", "Cars", "Sedans"])
    assert _plan(topic, _pushed(topic, None)).action is Action.UNCHANGED


def test_a_new_topic_is_created_under_its_path() -> None:
    topic = _topic(["Autos", "Cars", "Sedans"])
    item = _plan(topic, None)
    assert (item.action, item.ancestors, item.replaces) == (Action.CREATE, ("Autos", "Cars"), None)


def test_the_moved_key_is_one_per_path_so_a_retried_move_finds_its_segment() -> None:
    topic_id = uuid.uuid4()
    assert moved_key(CONNECTION, topic_id, ("A", "B")) == moved_key(CONNECTION, topic_id, ("A", " B "))
    assert moved_key(CONNECTION, topic_id, ("A", "B")) != moved_key(CONNECTION, topic_id, ("A", "C"))
    assert len(moved_key(CONNECTION, topic_id, ("A",))) <= 512  # TTD's ProviderElementId limit


def test_a_moved_and_renamed_topic_is_one_move_carrying_the_new_name() -> None:
    topic = _topic(["Autos", "Cars", "Sedans"], name="Saloons")
    item = _plan(topic, _pushed(topic, ("Autos", "Trucks")))
    assert (item.action, item.name) == (Action.MOVE, "Saloons")
