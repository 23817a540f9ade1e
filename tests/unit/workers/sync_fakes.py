"""An in-memory sync run store, a scripted source and a recording publisher for the sync driver's tests."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal
from typing import Any

import httpx

from services.sync_worker.store import SyncPageWriter
from shared.connectors import ConnectorDeps, HttpSettings
from shared.db.sync_runs import PageCounts, RunItems, SoftDeletes, SyncRunState
from shared.db.topics import TopicFields
from shared.inbound.checkpoint import SyncCheckpoint
from shared.inbound.classify import StoredTopic
from shared.inbound.completion import may_soft_delete
from shared.inbound.config import InboundConfig
from shared.inbound.mapping import InvalidRecord
from shared.inbound.pager import Pager, PagingLimits
from shared.inbound.source import InboundSource, build_inbound_source
from shared.messages import StatusEvent
from shared.runs.status import TERMINAL_STATUSES
from tests.unit.connectors.connector_fakes import FakeSleep
from tests.unit.inbound.inbound_fakes import dmp_record


@dataclass(slots=True)
class FakeRun:
    status: str = "queued"
    mode: str = "auto"
    cancel_requested: bool = False
    checkpoint: SyncCheckpoint | None = None
    total: int = 0
    counts: PageCounts = field(default_factory=lambda: PageCounts(0, 0, 0, 0, 0, 0, 0))
    pages: int = 0
    reason: str | None = None


def _added(left: PageCounts, right: PageCounts) -> PageCounts:
    return PageCounts(*(getattr(left, f.name) + getattr(right, f.name) for f in fields(PageCounts)))


@dataclass(slots=True)
class FakeSyncRuns:
    """SyncRunStore and SyncPageWriter over dicts: the org's topics by external id, runs, items, rejects."""

    org_id: uuid.UUID
    topics: dict[str, StoredTopic] = field(default_factory=dict)
    runs: dict[uuid.UUID, FakeRun] = field(default_factory=dict)
    seen: dict[uuid.UUID, set[str]] = field(default_factory=dict)
    items: dict[uuid.UUID, dict[uuid.UUID, str]] = field(default_factory=dict)
    rejects: list[tuple[int, InvalidRecord]] = field(default_factory=list)
    checkpoints: list[int] = field(default_factory=list)  # the page each commit moved the checkpoint to
    upserted: int = 0  # topics written (inserted or updated)
    mark: str | None = None

    def new_run(self, **values: Any) -> uuid.UUID:
        run_id = uuid.uuid4()
        self.runs[run_id] = FakeRun(**values)
        return run_id

    def topic(self, external_id: str) -> StoredTopic:
        return self.topics[external_id]

    # SyncRunStore

    async def run_state(self, run_id: uuid.UUID, *, lock: bool = False) -> SyncRunState | None:  # noqa: ARG002
        run = self.runs.get(run_id)
        if run is None:
            return None
        return SyncRunState(
            status=run.status,
            mode=run.mode,
            cancel_requested=run.cancel_requested,
            checkpoint=run.checkpoint,
            total=run.total,
            invalid=run.counts.invalid,
            pages=run.pages,
            errors_stored=run.counts.errors_stored,
        )

    async def start_sync_run(self, run_id: uuid.UUID, *, total: int, checkpoint: SyncCheckpoint) -> bool:
        run = self.runs[run_id]
        if run.checkpoint is not None or run.status not in {"queued", "running"} or run.cancel_requested:
            return False
        run.status, run.total, run.checkpoint = "running", total, checkpoint
        return True

    async def cancel_requested(self, run_id: uuid.UUID) -> bool:
        return self.runs[run_id].cancel_requested

    def transaction(self) -> AbstractAsyncContextManager[SyncPageWriter]:
        return self._transaction()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[SyncPageWriter]:
        yield self

    # SyncPageWriter

    async def claim_source_ids(
        self, run_id: uuid.UUID, org_id: uuid.UUID, source_ids: list[str]
    ) -> tuple[set[str], dict[str, StoredTopic]]:
        assert org_id == self.org_id
        seen = self.seen.setdefault(run_id, set())
        new = set(source_ids) - seen
        seen.update(new)
        return new, {source_id: self.topics[source_id] for source_id in new if source_id in self.topics}

    async def upsert_topics(
        self,
        org_id: uuid.UUID,  # noqa: ARG002
        topics: Sequence[TopicFields],
        *,
        render_batch: int,  # noqa: ARG002
    ) -> list[tuple[uuid.UUID, bool]]:
        written: list[tuple[uuid.UUID, bool]] = []
        for topic in topics:
            assert topic.external_id is not None
            before = self.topics.get(topic.external_id)
            topic_id = before.topic_id if before else uuid.uuid4()
            self.topics[topic.external_id] = StoredTopic(
                external_id=topic.external_id,
                name=topic.name,
                parent_category=topic.parent_category,
                path=tuple(topic.path),
                description=topic.description,
                cpm=Decimal(topic.cpm) if topic.cpm is not None else None,
                attributes=topic.attributes,
                status="active",
                source_connection_id=topic.source_connection_id,
                topic_id=topic_id,
            )
            written.append((topic_id, before is None))
        self.upserted += len(written)
        return written

    async def external_ids_of(self, topic_ids: list[uuid.UUID]) -> set[str]:
        wanted = set(topic_ids)
        return {topic.external_id for topic in self.topics.values() if topic.topic_id in wanted}

    async def store_rejects(
        self,
        run_id: uuid.UUID,  # noqa: ARG002
        *,
        page: int,
        rejects: Sequence[InvalidRecord],
        payload_limit: int,  # noqa: ARG002
        error_room: int,
    ) -> int:
        self.rejects += [(page, reject) for reject in rejects]
        return min(len(rejects), max(error_room, 0))

    async def record_page(
        self,
        run_id: uuid.UUID,
        counts: PageCounts,
        checkpoint: SyncCheckpoint,
        *,
        pages: int,
        items: RunItems | None = None,
    ) -> None:
        if items is not None:
            listed = self.items.setdefault(run_id, {})
            for topic_id, outcome in zip(items.topic_ids, items.outcomes, strict=True):
                listed.setdefault(topic_id, outcome)
        run = self.runs[run_id]
        run.counts, run.checkpoint, run.pages = _added(run.counts, counts), checkpoint, run.pages + pages
        self.checkpoints.append(checkpoint.page)

    async def distinct_source_ids(self, run_id: uuid.UUID) -> int:
        return len(self.seen.get(run_id, set()))

    async def soft_delete_unseen(
        self, *, org_id: uuid.UUID, connection_id: uuid.UUID, run_id: uuid.UUID, max_share: float
    ) -> SoftDeletes:
        assert org_id == self.org_id
        active = [
            t
            for t in self.topics.values()
            if t.source_connection_id == connection_id and t.status == "active"
        ]
        unseen = [topic for topic in active if topic.external_id not in self.seen.get(run_id, set())]
        if not may_soft_delete(candidates=len(unseen), active=len(active), max_share=max_share):
            return SoftDeletes(candidates=len(unseen), active=len(active), deleted=0)
        for topic in unseen:
            self.topics[topic.external_id] = replace(topic, status="deleted")
            self.items.setdefault(run_id, {}).setdefault(topic.topic_id, "deleted")
        return SoftDeletes(candidates=len(unseen), active=len(active), deleted=len(unseen))

    async def high_water_mark(self, connection_id: uuid.UUID) -> str | None:  # noqa: ARG002
        return self.mark

    async def advance_high_water_mark(
        self,
        *,
        org_id: uuid.UUID,  # noqa: ARG002
        connection_id: uuid.UUID,  # noqa: ARG002
        run_id: uuid.UUID,  # noqa: ARG002
        mark: str,
    ) -> None:
        self.mark = mark

    async def close_sync_run(self, run_id: uuid.UUID, *, status: str, reason: str | None) -> bool:
        run = self.runs[run_id]
        self.seen.pop(run_id, None)
        if run.status in TERMINAL_STATUSES:
            return False
        run.status, run.reason = status, reason
        return True


class Events:
    """StatusPublisher that keeps what it was given, acknowledged at once."""

    def __init__(self) -> None:
        self.sent: list[StatusEvent] = []

    async def publish(self, events: Sequence[StatusEvent]) -> None:
        self.sent += events

    async def send(self, events: Sequence[StatusEvent]) -> Awaitable[object]:
        self.sent += events
        return _acknowledged()

    def of(self, kind: type[Any]) -> list[Any]:
        return [event for event in self.sent if isinstance(event, kind)]


async def _acknowledged() -> object:
    return None


class Listing:
    """The source's records behind an offset listing with a count endpoint; remembers the offsets asked."""

    def __init__(self, records: int) -> None:
        self.records = [dmp_record(index) for index in range(records)]
        self.offsets: list[int] = []
        self.transport = httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/count"):
            return httpx.Response(200, json={"meta": [{"total": len(self.records)}]})
        start, size = int(request.url.params["offset"]), int(request.url.params["limit"])
        self.offsets.append(start)
        return httpx.Response(200, json={"data": {"items": self.records[start : start + size]}})

    def source(self, config: InboundConfig) -> InboundSource:
        return build_inbound_source(
            config,
            "none",
            None,
            settings=HttpSettings(max_attempts=1),
            deps=ConnectorDeps(transport=self.transport, sleep=FakeSleep(), clock=lambda: 0.0),
            pager=Pager(config, PagingLimits()),
        )
