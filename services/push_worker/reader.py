"""Reads a push run batch by batch in topic-id order (the selection, then the deletions), planning each
batch against its own ledger rows: what a run holds in memory is the batches in flight, not the run."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from services.push_worker.plan import PlannedItem, plan_push
from shared.db import activations as ledger
from shared.db.pool import Db
from shared.db.topics import Topic, topics_for_push_after
from shared.output_templates import RenderedSegment

Phase = Literal["topics", "deactivate"]


class PushCursor(BaseModel):
    """Where a push run resumes: the last topic of the last recorded batch, in its phase."""

    model_config = ConfigDict(frozen=True)

    phase: Phase = "topics"
    after: uuid.UUID | None = None
    batches: int = 0  # batches recorded so far (step runs: the next one's index)
    started: bool = False  # RunStarted was published with the run's total

    @classmethod
    def of(cls, stored: dict[str, Any] | None) -> PushCursor:
        """The cursor kept on the run (a fresh one before the first slice)."""
        return cls() if stored is None else cls.model_validate(stored)

    def stored(self) -> dict[str, Any]:
        """The cursor as the run keeps it."""
        return self.model_dump(mode="json")


@dataclass(frozen=True, slots=True)
class PlanContext:
    """What planning needs besides the rows: the run, its connection's pricing and naming."""

    run_id: uuid.UUID
    org_id: uuid.UUID
    connection_id: uuid.UUID
    topic_ids: list[uuid.UUID] | None  # None: every active topic, and deactivation of deleted ones
    render: Callable[[Topic], RenderedSegment]
    default_cpm: float
    currency: str


class PlanReader:
    """Yields the run's batches in order from a cursor; each batch comes with the cursor past it."""

    def __init__(self, db: Db, context: PlanContext, cursor: PushCursor, size: int) -> None:
        self._db = db
        self._context = context
        self._phase: Phase = cursor.phase
        self._after = cursor.after
        self._batches = cursor.batches
        self._size = size

    async def next_batch(self) -> tuple[list[PlannedItem], PushCursor] | None:
        """The next batch (filled across the phase boundary), or None when the run has no more items."""
        context = self._context
        topics: list[Topic] = []
        if self._phase == "topics":
            topics = await topics_for_push_after(
                self._db, context.org_id, context.topic_ids, after=self._after, limit=self._size
            )
            if topics:
                self._after = topics[-1].id
            if len(topics) < self._size and context.topic_ids is None:
                self._phase, self._after = "deactivate", None
        deleted: list[uuid.UUID] = []
        if self._phase == "deactivate" and len(topics) < self._size:
            deleted = await ledger.topics_to_deactivate_after(
                self._db,
                context.connection_id,
                context.run_id,
                after=self._after,
                limit=self._size - len(topics),
            )
            if deleted:
                self._after = deleted[-1]
        if not topics and not deleted:
            return None
        activations = await ledger.activations_for(
            self._db, context.connection_id, [topic.id for topic in topics] + deleted
        )
        batch = plan_push(
            run_id=context.run_id,
            connection_id=context.connection_id,
            topics=topics,
            deactivate=deleted,
            activations=activations,
            render=context.render,
            default_cpm=context.default_cpm,
            currency=context.currency,
        )
        self._batches += 1
        return batch, PushCursor(phase=self._phase, after=self._after, batches=self._batches, started=True)
