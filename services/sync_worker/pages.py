"""The page loop of a sync run: start it, fetch each page while the previous one commits, report each page."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog

from services.sync_worker.closing import SourceCount, SyncRunRef, close_run, publish_finished
from services.sync_worker.page_commit import Cancelled, CommittedPage, Fetched, commit_page
from shared.db import sync_runs
from shared.db.runs import is_cancel_requested
from shared.inbound.checkpoint import SyncCheckpoint
from shared.inbound.config import InboundConfig
from shared.inbound.mapping import RecordMapper
from shared.inbound.pager import PagingError
from shared.inbound.source import InboundSource, SourceError
from shared.inbound.watermarks import later, page_mark
from shared.messages import RunStarted, SyncPageRecorded, deterministic_event_id
from shared.messaging.consumer_guard import ShutdownInterrupted
from shared.messaging.status_publisher import PendingAcks, StatusPublisher
from shared.metrics import count_sync_records
from shared.settings import Settings

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class FetchFailed:
    reason: str


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
        return Fetched(records, following, SourceCount(known_total, recount, recount_error))

    async def _page(self, checkpoint: SyncCheckpoint, fetched: Fetched) -> bool:
        """Classify and commit a fetched page; False when the run stopped (cancelled, superseded)."""
        number = checkpoint.page + 1
        committed = await commit_page(
            self._pool, self._run, self._config, self._settings, checkpoint, fetched
        )
        if isinstance(committed, Cancelled):
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

    async def _report(self, number: int, committed: CommittedPage) -> None:
        run, counts, closing = self._run, committed.counts, committed.closing
        count_sync_records(
            inserted=counts.inserted,
            updated=counts.updated,
            unchanged=counts.unchanged,
            invalid=counts.invalid,
            duplicate=counts.duplicates,
        )
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
            await publish_finished(self._publisher, run, closing)
