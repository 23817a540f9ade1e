"""Decides, per topic, what a push run does on the platform: create, update, deactivate or nothing."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from shared.connectors.errors import PlatformError
from shared.connectors.protocol import PlatformSegment
from shared.connectors.taxonomy_path import ancestors_of, normalized_name
from shared.db.activations import Activation
from shared.db.topics import Topic
from shared.output_templates import RenderedSegment


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DEACTIVATE = "deactivate"
    UNCHANGED = "unchanged"
    REPLAY = "replay"  # done by an earlier delivery of this same run: report it again, call nothing
    # The topic's path changed on a platform whose segments cannot change parent (TTD): a new segment
    # under the new path, then the old one deactivated.
    MOVE = "move"


class Drift(StrEnum):
    """How a segment on the platform differs from what the ledger says was pushed (reconcile runs)."""

    MISSING = "missing"  # the platform no longer has it: created again
    RENAMED = "renamed"  # its name was changed there: updated back
    PRICE_DIFFERS = "price_differs"  # its CPM there is not the one pushed: updated back
    DEACTIVATED = "deactivated"  # someone turned it off there: reported, never turned back on
    UNREADABLE = "unreadable"  # reading it back failed: left as it is


LIVE_STATUSES = frozenset({"active", "in_review", "pending"})
"""Platform statuses (any case) of a segment that is on: custom API `active`, LiveRamp `ACTIVE` and
`IN_REVIEW`, a buyable Trade Desk element; anything else (`inactive`, `DISABLED`) is off."""

Observed = Mapping[uuid.UUID, PlatformSegment | PlatformError | None]
"""What the platform answered for a topic's segment when read back: the segment, a failure, or None."""


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
    drift: Drift | None = None  # reconcile runs: how the platform differed from the ledger
    ancestors: tuple[str, ...] = ()  # the topic's ancestors' names, root first (TTD's element tree)
    # A move: the segment the new one replaces (`platform_segment_id` is the old one until it is made).
    replaces: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)  # the topic's, for a create that needs them

    @property
    def reported_action(self) -> str:
        """The action as an item's `plannedAction` shows it (`<action>:<drift>` when drift was found)."""
        action = "unchanged" if self.action is Action.REPLAY else self.action.value
        return action if self.drift is None else f"{action}:{self.drift.value}"


PRICE_TOLERANCE = 0.00005
"""CPMs closer than this are the same price (the content hash keeps 4 decimals)."""


def _drift(observed: PlatformSegment | PlatformError | None, name: str, cpm: float) -> Drift | None:
    if isinstance(observed, PlatformError):
        return Drift.UNREADABLE
    if observed is None:
        return Drift.MISSING
    if observed.status.lower() not in LIVE_STATUSES:
        return Drift.DEACTIVATED
    if observed.name != name:
        return Drift.RENAMED
    # Only where the platform's read-back shows prices (custom API, LiveRamp; not TTD's element query).
    if any(abs(held - cpm) >= PRICE_TOLERANCE for held in observed.cpms):
        return Drift.PRICE_DIFFERS
    return None


def content_hash(segment: RenderedSegment, cpm: float, currency: str) -> str:
    """A digest of what the platform holds for a segment; a change means an update is due."""
    payload = json.dumps([segment.name, segment.description, round(cpm, 4), currency], ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def external_key(connection_id: uuid.UUID, topic_id: uuid.UUID) -> str:
    """The stable per-(connection, topic) key platforms use to recognise a repeated create."""
    return f"act-{uuid.uuid5(connection_id, str(topic_id)).hex[:24]}"


def moved_key(connection_id: uuid.UUID, topic_id: uuid.UUID, ancestors: Sequence[str]) -> str:
    """The key of a moved topic's new segment: one per (connection, topic, path), so a retried move finds
    the segment it made, and a topic moved back to a path it had is given that path's segment again."""
    names = [normalized_name(name) for name in ancestors]
    digest = hashlib.sha256(json.dumps(names, ensure_ascii=False).encode()).hexdigest()[:12]
    return f"{external_key(connection_id, topic_id)}-m{digest}"


def _moved(activation: Activation | None, ancestors: tuple[str, ...]) -> bool:
    # Compared as the containers are keyed: a path respelled with other spaces is the same place.
    if activation is None or activation.platform_segment_id is None or activation.platform_path is None:
        return False
    return [normalized_name(n) for n in activation.platform_path] != [normalized_name(n) for n in ancestors]


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
    observed: Observed | None = None,
    moves: bool = False,
) -> list[PlannedItem]:
    """One planned item per topic in the selection plus one per deleted topic still live on the platform.

    With `observed` (a reconcile run) a topic whose segment was read back is planned against what the
    platform has: created again when missing, updated when renamed there; left alone (and reported)
    when deactivated there or unreadable. With `moves` (a platform whose segments cannot change parent),
    a topic whose path differs from the one its segment was made under is moved.
    """
    observed = observed or {}
    plan: list[PlannedItem] = []
    for topic in topics:
        segment = render(topic)
        cpm = float(topic.cpm) if isinstance(topic.cpm, Decimal) else default_cpm
        digest = content_hash(segment, cpm, currency)
        activation = activations.get(topic.id)
        drift = _drift(observed[topic.id], segment.name, cpm) if topic.id in observed else None
        segment_id = activation.platform_segment_id if activation else None
        ancestors = ancestors_of(topic.path, topic.name)
        key = external_key(connection_id, topic.id)
        if activation is not None and activation.last_run_id == run_id:
            action, drift = Action.REPLAY, None
        elif drift is Drift.MISSING:
            action, segment_id, key = Action.CREATE, None, f"{key}-r{run_id.hex[:8]}"
        elif drift in (Drift.DEACTIVATED, Drift.UNREADABLE):
            action = Action.UNCHANGED
        elif moves and _moved(activation, ancestors):
            action, key = Action.MOVE, moved_key(connection_id, topic.id, ancestors)
        elif drift in (Drift.RENAMED, Drift.PRICE_DIFFERS):
            action = Action.UPDATE
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
                platform_segment_id=segment_id,
                external_key=key,
                replay_outcome=activation.last_outcome if action is Action.REPLAY and activation else None,
                drift=drift,
                ancestors=ancestors,
                replaces=segment_id if action is Action.MOVE else None,
                attributes=topic.attributes,
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
