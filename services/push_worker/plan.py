"""Decides, per topic, what a push run does on the platform: create, update, deactivate or nothing."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from shared.db.activations import Activation
from shared.db.topics import Topic
from shared.output_templates import RenderedSegment


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DEACTIVATE = "deactivate"
    UNCHANGED = "unchanged"
    REPLAY = "replay"  # done by an earlier delivery of this same run: report it again, call nothing


@dataclass(frozen=True, slots=True)
class PlannedItem:
    topic_id: uuid.UUID
    action: Action
    name: str
    description: str
    cpm: float
    content_hash: str
    platform_segment_id: str | None
    external_key: str
    replay_outcome: str | None = None


def content_hash(segment: RenderedSegment, cpm: float, currency: str) -> str:
    """A digest of what the platform holds for a segment; a change means an update is due."""
    payload = json.dumps([segment.name, segment.description, round(cpm, 4), currency], ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def external_key(connection_id: uuid.UUID, topic_id: uuid.UUID) -> str:
    """The stable per-(connection, topic) key platforms use to recognise a repeated create."""
    return f"act-{uuid.uuid5(connection_id, str(topic_id)).hex[:24]}"


def plan_push(
    *,
    run_id: uuid.UUID,
    connection_id: uuid.UUID,
    topics: Sequence[Topic],
    deactivate: Sequence[uuid.UUID],
    activations: dict[uuid.UUID, Activation],
    render: Callable[[Topic], RenderedSegment],
    default_cpm: float,
    currency: str,
) -> list[PlannedItem]:
    """One planned item per topic in the selection plus one per deleted topic still live on the platform."""
    plan: list[PlannedItem] = []
    for topic in topics:
        segment = render(topic)
        cpm = float(topic.cpm) if isinstance(topic.cpm, Decimal) else default_cpm
        digest = content_hash(segment, cpm, currency)
        activation = activations.get(topic.id)
        if activation is not None and activation.last_run_id == run_id:
            action = Action.REPLAY
        elif activation is None or activation.platform_segment_id is None:
            action = Action.CREATE
        elif activation.content_hash != digest or activation.state != "active":
            action = Action.UPDATE
        else:
            action = Action.UNCHANGED
        plan.append(
            PlannedItem(
                topic_id=topic.id,
                action=action,
                name=segment.name,
                description=segment.description,
                cpm=cpm,
                content_hash=digest,
                platform_segment_id=activation.platform_segment_id if activation else None,
                external_key=external_key(connection_id, topic.id),
                replay_outcome=activation.last_outcome if action is Action.REPLAY and activation else None,
            )
        )
    for topic_id in deactivate:
        activation = activations[topic_id]
        replay = activation.last_run_id == run_id
        plan.append(
            PlannedItem(
                topic_id=topic_id,
                action=Action.REPLAY if replay else Action.DEACTIVATE,
                name="",
                description="",
                cpm=default_cpm,
                content_hash=activation.content_hash or "",
                platform_segment_id=activation.platform_segment_id,
                external_key=external_key(connection_id, topic_id),
                replay_outcome=activation.last_outcome if replay else None,
            )
        )
    return plan
