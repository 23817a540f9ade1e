"""Drives a sync run page by page: fetch, classify, and one transaction per page for topics, checkpoint, counters."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog

from shared.db import sync_runs
from shared.db.pool import DbConnection
from shared.db.runs import is_cancel_requested
from shared.db.sync_rejects import store_rejects
from shared.db.topics import TopicFields, upsert_rendered_topics
from shared.inbound.checkpoint import SyncCheckpoint
from shared.inbound.classify import plan_page
from shared.inbound.completion import judge, soft_delete_note
from shared.inbound.config import InboundConfig
from shared.inbound.mapping import InvalidRecord, MappedTopic, RecordMapper
from shared.inbound.pager import PagingError
from shared.inbound.source import InboundSource, SourceError
from shared.inbound.watermarks import later, page_mark
from shared.messages import RunFinished, RunStarted, SyncPageRecorded, deterministic_event_id
from shared.messaging.consumer_guard import ShutdownInterrupted
from shared.messaging.status_publisher import PendingAcks, StatusPublisher
from shared.settings import Settings

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class SyncRunRef:
    run_id: uuid.UUID
    org_id: uuid.UUID
    connection_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class Closing:
    status: str
    reason: str | None


@dataclass(frozen=True, slots=True)
class CommittedPage:
    counts: sync_runs.PageCounts
    closing: Closing | None


@dataclass(frozen=True, slots=True)
class Fetched:
    """A page as the source gave it, and the checkpoint past it."""

    records: list[MappedTopic | InvalidRecord]  # mapped while the previous page commits
    following: SyncCheckpoint
    known_total: int | None  # the run's total when the source has a count endpoint
    recount: int | None  # the source's count again, after its last page
    recount_error: str | None


@dataclass(frozen=True, slots=True)
class FetchFailed:
    reason: str


class _Cancelled:
    """The run's cancel was found under the page's row lock: nothing of the page is written."""


CANCELLED = _Cancelled()


def _topic_fields(topic: MappedTopic, connection_id: uuid.UUID) -> TopicFields:
    return TopicFields(
        name=topic.name,
        parent_category=topic.parent_category,
        path=list(topic.path),
        description=topic.description,
        external_id=topic.source_id,
        cpm=topic.cpm,
        attributes=topic.attributes,
        source_connection_id=connection_id,
    )


class SyncRunDriver:
    """One sync run of one connection, over its source; every method is safe to repeat after a crash."""

    def __init__(
        self,
        *,
        run: SyncRunRef,
        config: InboundConfig,
        source: InboundSource,
        pool: asyncpg.Pool[Any],
        settings: Settings,
        publisher: StatusPublisher,
        stopping: asyncio.Event | None = None,
    ) -> None:
        self._run = run
        self._stopping = stopping
        self._config = config
        self._source = source
        self._pool = pool
        self._settings = settings
        self._publisher = publisher
        self._mapper = RecordMapper(config)
        self._reports = PendingAcks(publisher)
        self._log = log.bind(
            run_id=str(run.run_id), connection_id=str(run.connection_id), org_id=str(run.org_id)
        )

    async def start(self) -> SyncCheckpoint | None:
        """Count the source and move the run to running; None when the run ended instead."""
        run = self._run
        since = (
            await sync_runs.high_water_mark(self._pool, run.connection_id)
            if self._config.sync_mode == "incremental"
            else None
        )
        try:
            total = await self._source.count(since)
        except SourceError as exc:
            await self.close("failed", f"count endpoint: {exc.message}")
            return None
        checkpoint = SyncCheckpoint(since=since)
        if not await sync_runs.start_sync_run(
            self._pool, run.run_id, total=total or 0, checkpoint=checkpoint
        ):
            state = await sync_runs.sync_run_state(self._pool, run.run_id)
            if state is None or state.is_terminal or state.checkpoint is None:
                if state is not None and state.cancel_requested and not state.is_terminal:
                    await self.close("cancelled", "cancelled before the first page")
                return None
            return state.checkpoint  # another delivery started it first
        await self._publisher.publish(
            [
                RunStarted(
                    event_id=deterministic_event_id(run.run_id, "started"),
                    run_id=run.run_id,
                    org_id=run.org_id,
                    total=total or 0,
                )
            ]
        )
        self._log.info("sync_run_started", total=total, since=since, mode=self._config.sync_mode)
        return checkpoint

    async def pages(self, checkpoint: SyncCheckpoint, *, total: int, limit: int | None) -> None:
        """Page on from `checkpoint` until the end (or `limit` pages), a cancel or a failure.

        The next page is fetched while the current one is classified and committed, and page events go
        out without waiting for the broker between pages: every confirm is awaited before this returns.
        """
        if await is_cancel_requested(self._pool, self._run.run_id):
            await self._cancel(checkpoint)
            return
        try:
            await self._page_on(checkpoint, total=total, limit=limit)
        except BaseException:
            self._reports.forget()
            raise
        await self._reports.confirm_all()

    async def _page_on(self, checkpoint: SyncCheckpoint, *, total: int, limit: int | None) -> None:
        taken = 0
        ahead: asyncio.Task[Fetched | FetchFailed] | None = None
        try:
            while not checkpoint.done and (limit is None or taken < limit):
                if self._stopping is not None and self._stopping.is_set():
                    self._log.info("sync_run_handed_over", pages=checkpoint.page)
                    raise ShutdownInterrupted  # uncommitted: the next owner resumes from the checkpoint
                fetched = await (ahead or self._fetch(checkpoint, total))
                ahead = None
                if isinstance(fetched, FetchFailed):
                    await self._fail(checkpoint, fetched.reason)
                    return
                following = fetched.following
                if not following.done and (limit is None or taken + 1 < limit):
                    ahead = asyncio.create_task(self._fetch(following, total))
                if not await self._page(checkpoint, fetched):
                    return
                checkpoint = following
                taken += 1
        finally:
            if ahead is not None:
                ahead.cancel()
                with contextlib.suppress(BaseException):
                    await ahead

    async def _fetch(self, checkpoint: SyncCheckpoint, total: int) -> Fetched | FetchFailed:
        """The page after `checkpoint` and the checkpoint past it (the recount, when it is the last)."""
        config = self._config
        label = f"page {checkpoint.page + 1} ({checkpoint.position(config.pagination_type)})"
        known_total = total if config.count_endpoint else None
        try:
            fetched = await self._source.page(checkpoint)
            following = self._source.pager.advance(checkpoint, fetched, known_total)
        except (SourceError, PagingError) as exc:
            return FetchFailed(f"{label}: {exc}")
        if config.incremental_field:
            mark = later(following.high_water_mark, page_mark(fetched.items, config.incremental_field))
            following = following.model_copy(update={"high_water_mark": mark})
        recount: int | None = None
        recount_error: str | None = None
        if following.done and known_total is not None:
            try:
                recount = await self._source.count(following.since)
            except SourceError as exc:
                recount_error = exc.message
        records = self._mapper.map_page(fetched.items)
        return Fetched(records, following, known_total, recount, recount_error)

    async def _page(self, checkpoint: SyncCheckpoint, fetched: Fetched) -> bool:
        """Classify and commit a fetched page; False when the run stopped (cancelled, superseded)."""
        number = checkpoint.page + 1
        committed = await self._commit(
            number,
            checkpoint,
            fetched.following,
            fetched.records,
            known_total=fetched.known_total,
            recount=fetched.recount,
            recount_error=fetched.recount_error,
        )
        if isinstance(committed, _Cancelled):
            await self._cancel(checkpoint)
            return False
        if committed is None:
            self._log.info("sync_page_superseded", page=number)
            return False
        await self._report(number, committed)
        return True

    async def _fail(self, checkpoint: SyncCheckpoint, reason: str) -> None:
        # A page fetched ahead may fail after a cancel came in: the cancel is what the user asked for.
        if await is_cancel_requested(self._pool, self._run.run_id):
            await self._cancel(checkpoint)
        else:
            await self.close("failed", reason)

    async def _cancel(self, checkpoint: SyncCheckpoint) -> None:
        await self.close(
            "cancelled", f"cancelled at a page boundary after {checkpoint.page} pages; checkpoint kept"
        )

    async def close(self, status: str, reason: str | None) -> None:
        """End the run outside a page (failure, cancel) and tell observers."""
        await close_run(self._pool, self._publisher, self._run, status=status, reason=reason)

    async def _commit(
        self,
        number: int,
        before: SyncCheckpoint,
        after: SyncCheckpoint,
        records: list[MappedTopic | InvalidRecord],
        *,
        known_total: int | None,
        recount: int | None,
        recount_error: str | None,
    ) -> CommittedPage | _Cancelled | None:
        run = self._run
        async with self._pool.acquire() as connection, connection.transaction():
            state = await sync_runs.sync_run_state(connection, run.run_id, lock=True)
            # Another delivery of the command moved the run on (or ended it): this page is not ours.
            if state is None or state.status != "running" or state.checkpoint is None:
                return None
            if state.checkpoint.page != before.page:
                return None
            if state.cancel_requested:
                return CANCELLED
            source_ids = [record.source_id for record in records if record.source_id is not None]
            new_ids, stored = await sync_runs.claim_source_ids(connection, run.run_id, run.org_id, source_ids)
            plan = plan_page(records, new_ids, stored, run.connection_id)
            created, updated = (0, 0)
            if plan.upserts:
                fields = [_topic_fields(topic, run.connection_id) for topic in plan.upserts]
                # Keeps the output templates' rendered names in step with the synced topics.
                written = await upsert_rendered_topics(
                    connection, run.org_id, fields, render_batch=self._settings.output_render_batch
                )
                created = sum(1 for _topic_id, was_created in written if was_created)
                updated = len(written) - created
            errors_stored = await store_rejects(
                connection,
                run.run_id,
                page=number,
                rejects=plan.invalid,
                payload_limit=self._settings.sync_reject_payload_max_chars,
                error_room=self._settings.max_run_errors_stored - state.errors_stored,
            )
            counts = sync_runs.PageCounts(
                records=len(records),
                inserted=created,
                updated=updated,
                unchanged=plan.unchanged,
                invalid=len(plan.invalid),
                duplicates=plan.duplicates,
                errors_stored=errors_stored,
            )
            await sync_runs.record_page(connection, run.run_id, counts, after)
            closing = None
            if after.done:
                closing = await self._finish(
                    connection,
                    after,
                    known_total=known_total,
                    recount=recount,
                    recount_error=recount_error,
                    invalid=state.invalid + counts.invalid,
                )
        return CommittedPage(counts, closing)

    async def _finish(
        self,
        connection: DbConnection,
        checkpoint: SyncCheckpoint,
        *,
        known_total: int | None,
        recount: int | None,
        recount_error: str | None,
        invalid: int,
    ) -> Closing:
        """Close the run in its last page's transaction: completeness, soft deletes, high-water mark."""
        run, config = self._run, self._config
        verdict = judge(
            total=known_total,
            recount=recount,
            recount_error=recount_error,
            distinct=await sync_runs.distinct_source_ids(connection, run.run_id),
            invalid=invalid,
        )
        reasons = [verdict.reason]
        if verdict.verified and config.sync_mode == "full":
            share = self._settings.sync_max_delete_share
            deletes = await sync_runs.soft_delete_unseen(
                connection,
                org_id=run.org_id,
                connection_id=run.connection_id,
                run_id=run.run_id,
                max_share=share,
            )
            reasons.append(
                soft_delete_note(
                    candidates=deletes.candidates,
                    active=deletes.active,
                    deleted=deletes.deleted,
                    max_share=share,
                )
            )
        if verdict.complete and checkpoint.high_water_mark is not None:
            current = await sync_runs.high_water_mark(connection, run.connection_id)
            mark = later(current, checkpoint.high_water_mark)
            if mark is not None and mark != current:
                await sync_runs.advance_high_water_mark(
                    connection,
                    org_id=run.org_id,
                    connection_id=run.connection_id,
                    run_id=run.run_id,
                    mark=mark,
                )
        reason = "; ".join(part for part in reasons if part) or None
        await sync_runs.close_sync_run(connection, run.run_id, status=verdict.status, reason=reason)
        return Closing(verdict.status, reason)

    async def _report(self, number: int, committed: CommittedPage) -> None:
        run, counts, closing = self._run, committed.counts, committed.closing
        await self._reports.send(
            [
                SyncPageRecorded(
                    event_id=deterministic_event_id(run.run_id, "page", number),
                    run_id=run.run_id,
                    org_id=run.org_id,
                    page=number,
                    records=counts.records,
                    inserted=counts.inserted,
                    updated=counts.updated,
                    unchanged=counts.unchanged,
                    invalid=counts.invalid,
                    skipped=counts.duplicates,
                    run_status=closing.status if closing else "running",
                    status_reason=closing.reason if closing else None,
                )
            ]
        )
        self._log.info(
            "sync_page_committed",
            page=number,
            records=counts.records,
            inserted=counts.inserted,
            updated=counts.updated,
            unchanged=counts.unchanged,
            invalid=counts.invalid,
        )
        if closing is not None:
            self._log.info("sync_run_closed", status=closing.status, reason=closing.reason)
            await _publish_finished(self._publisher, run, closing)


async def close_run(
    pool: asyncpg.Pool[Any], publisher: StatusPublisher, run: SyncRunRef, *, status: str, reason: str | None
) -> None:
    """End a sync run outside a page (failure, cancel) and tell observers; a no-op on a final run."""
    async with pool.acquire() as connection, connection.transaction():
        closed = await sync_runs.close_sync_run(connection, run.run_id, status=status, reason=reason)
    if closed:
        log.info("sync_run_closed", run_id=str(run.run_id), status=status, reason=reason)
        await _publish_finished(publisher, run, Closing(status, reason))


async def _publish_finished(publisher: StatusPublisher, run: SyncRunRef, closing: Closing) -> None:
    # The run is already final in Postgres, so the recorder's finish is a no-op; this is for observers.
    await publisher.publish(
        [
            RunFinished(
                event_id=deterministic_event_id(run.run_id, "finished"),
                run_id=run.run_id,
                org_id=run.org_id,
                cancelled=closing.status == "cancelled",
                failed_reason=closing.reason if closing.status == "failed" else None,
            )
        ]
    )
