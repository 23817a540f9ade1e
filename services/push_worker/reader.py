"""Reads a push run batch by batch in topic-id order (the selection, then the deletions), planning each
batch against its own ledger rows: what a run holds in memory is the batches in flight, not the run."""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from services.push_worker.plan import Observed, PlannedItem, plan_push
from shared.db import activations as ledger
from shared.db.activations import Activation
from shared.db.pool import Db
from shared.db.topics import Topic, topics_for_push_after
from shared.output_templates import RenderedSegment

Phase = Literal["topics", "deactivate"]
IdRange = tuple[uuid.UUID | None, uuid.UUID | None]
"""A run lane's topic ids: those > the first and <= the second (None: open on that side)."""


class PushCursor(BaseModel):
    """Where a push run resumes: the last topic of the last recorded batch, in its phase."""

    model_config = ConfigDict(frozen=True)

    phase: Phase = "topics"
    after: uuid.UUID | None = None
    batches: int = 0  # batches recorded so far (step runs: the next one's index)
    started: bool = False  # RunStarted was published with the run's total

    @classmethod
    def of(cls, stored: dict[str, Any] | None, *, lane: int = 0) -> PushCursor:
        """The cursor kept on the run's lane (a fresh one before its first slice; lanes 1.. are opened
        after the run's start is published)."""
        if stored is None:
            return cls(started=lane > 0)
        return cls.model_validate(stored)

    def stored(self) -> dict[str, Any]:
        """The cursor as the run keeps it."""
        return self.model_dump(mode="json")


ReadBack = Callable[[Sequence[tuple[uuid.UUID, str]]], Awaitable[Observed]]
"""Reads (topic id, platform segment id) pairs back from the platform (reconcile runs)."""


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
    read_back: ReadBack | None = None  # a reconcile run: plan against what the platform has
    moves: bool = False  # the platform's segments cannot change parent: a moved topic is a `move`


class PlanReader:
    """Yields the run's batches in order from a cursor; each batch comes with the cursor past it.

    Rows are read `read_ahead` batches at a time (topics, deletions and their ledger rows in one query
    each), so a batch costs no query of its own; what is held is at most that many batches' rows.
    """

    def __init__(
        self,
        db: Db,
        context: PlanContext,
        cursor: PushCursor,
        size: int,
        *,
        read_ahead: int = 8,
        ids: IdRange = (None, None),
    ) -> None:
        self._db = db
        self._context = context
        self._start, self._upto = ids
        self._phase: Phase = cursor.phase
        # The last item served, in its phase (what the cursor says); at first the start of the lane's ids.
        self._after = self._start if cursor.after is None else cursor.after
        self._batches = cursor.batches
        self._size = size
        self._chunk = size * read_ahead
        self._read_after = self._after  # the last item read from Postgres, in the phase being read
        self._topics: deque[Topic] = deque()
        self._deleted: deque[uuid.UUID] = deque()
        self._activations: dict[uuid.UUID, Activation] = {}
        self._exhausted = False  # the phase being read has no rows left

    async def next_batch(self) -> tuple[list[PlannedItem], PushCursor] | None:
        """The next batch (filled across the phase boundary), or None when the run has no more items."""
        topics: list[Topic] = []
        deleted: list[uuid.UUID] = []
        while len(topics) + len(deleted) < self._size and await self._buffered():
            if self._phase == "topics":
                topics.append(self._topics.popleft())
                self._after = topics[-1].id
            else:
                deleted.append(self._deleted.popleft())
                self._after = deleted[-1]
        if not topics and not deleted:
            return None
        context = self._context
        activations = {
            key: self._activations.pop(key)
            for key in [t.id for t in topics] + deleted
            if key in self._activations
        }
        observed = None
        if context.read_back is not None and topics:
            live = [
                (topic.id, found.platform_segment_id)
                for topic in topics
                if (found := activations.get(topic.id)) is not None
                and found.platform_segment_id is not None
                and found.state in ("active", "pending")
                and found.last_run_id != context.run_id
            ]
            observed = await context.read_back(live) if live else None
        batch = plan_push(
            run_id=context.run_id,
            connection_id=context.connection_id,
            topics=topics,
            deactivate=deleted,
            activations=activations,
            render=context.render,
            default_cpm=context.default_cpm,
            currency=context.currency,
            observed=observed,
            moves=context.moves,
        )
        self._batches += 1
        return batch, PushCursor(phase=self._phase, after=self._after, batches=self._batches, started=True)

    async def _buffered(self) -> bool:
        """Whether an item of the current phase is at hand, reading the next chunk (or phase) if needed."""
        while True:
            if self._topics if self._phase == "topics" else self._deleted:
                return True
            if not self._exhausted:
                await self._read()
                continue
            if self._phase == "deactivate" or self._context.topic_ids is not None:
                return False
            self._phase, self._after, self._read_after, self._exhausted = (
                "deactivate",
                self._start,
                self._start,
                False,
            )

    async def _read(self) -> None:
        context = self._context
        ids: list[uuid.UUID]
        if self._phase == "topics":
            rows = await topics_for_push_after(
                self._db,
                context.org_id,
                context.topic_ids,
                after=self._read_after,
                limit=self._chunk,
                upto=self._upto,
            )
            self._topics.extend(rows)
            ids = [topic.id for topic in rows]
        else:
            ids = await ledger.topics_to_deactivate_after(
                self._db,
                context.connection_id,
                context.run_id,
                after=self._read_after,
                limit=self._chunk,
                upto=self._upto,
            )
            self._deleted.extend(ids)
        self._exhausted = len(ids) < self._chunk
        if ids:
            self._read_after = ids[-1]
            self._activations.update(await ledger.activations_for(self._db, context.connection_id, ids))
