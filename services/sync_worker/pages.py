"""The page loop of a sync run: start it, commit the pages fetched ahead in batches, report each page."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog

from services.sync_worker.closing import Closing, SyncRunRef, close_run, publish_finished
from services.sync_worker.page_commit import Cancelled, Fetched, commit_pages
from services.sync_worker.page_feed import FetchFailed, PageFeed
from services.sync_worker.store import SyncRunStore
from shared.db.sync_runs import PageCounts
from shared.inbound.checkpoint import SyncCheckpoint
from shared.inbound.config import InboundConfig
from shared.inbound.source import InboundSource, SourceError
from shared.messages import RunStarted, SyncPageRecorded, deterministic_event_id
from shared.messaging.consumer_guard import ShutdownInterrupted
from shared.messaging.status_publisher import PendingAcks, StatusPublisher
from shared.metrics import count_sync_records
from shared.settings import Settings

log = structlog.get_logger(__name__)


# What the log line of a committed page says of it.
_LOGGED_FIGURES = {"page", "records", "inserted", "updated", "unchanged", "invalid"}
# The figures of a committed page counted in activator_sync_records_total under their own names (skipped
# records count as `duplicate`).
_COUNTED_OUTCOMES = {"inserted", "updated", "unchanged", "invalid"}

# Asked at a slice's end: may the run keep its lease for another slice?
GoOn = Callable[[], Awaitable[bool]]


@dataclass(kw_only=True, eq=False)
class SyncRunDriver:
    """One sync run of one connection, over its source; every method is safe to repeat after a crash."""

    run: SyncRunRef
    config: InboundConfig
    source: InboundSource
    store: SyncRunStore
    settings: Settings
    publisher: StatusPublisher
    stopping: asyncio.Event | None = None
    _reports: PendingAcks = field(init=False, repr=False)
    _log: structlog.stdlib.BoundLogger = field(init=False, repr=False)

    def __post_init__(self) -> None:
        run = self.run
        self._reports = PendingAcks(self.publisher)
        self._log = log.bind(
            run_id=str(run.run_id), connection_id=str(run.connection_id), org_id=str(run.org_id)
        )

    async def start(self) -> SyncCheckpoint | None:
        """Count the source and move the run to running; None when the run ended instead."""
        run = self.run
        since = (
            await self.store.high_water_mark(run.connection_id)
            if self.config.sync_mode == "incremental"
            else None
        )
        try:
            total = await self.source.count(since)
        except SourceError as exc:
            await self.close("failed", f"count endpoint: {exc.message}")
            return None
        checkpoint = SyncCheckpoint(since=since)
        if not await self.store.start_sync_run(run.run_id, total=total or 0, checkpoint=checkpoint):
            state = await self.store.run_state(run.run_id)
            if state is None or state.is_terminal or state.checkpoint is None:
                if state is not None and state.cancel_requested and not state.is_terminal:
                    await self.close("cancelled", "cancelled before the first page")
                return None
            return state.checkpoint  # another delivery started it first
        await self.publisher.publish(
            [
                RunStarted(
                    event_id=deterministic_event_id(run.run_id, "started"),
                    run_id=run.run_id,
                    org_id=run.org_id,
                    total=total or 0,
                )
            ]
        )
        self._log.info("sync_run_started", total=total, since=since, mode=self.config.sync_mode)
        return checkpoint

    async def pages(
        self,
        checkpoint: SyncCheckpoint,
        *,
        total: int,
        limit: int | None,
        go_on: GoOn | None = None,
    ) -> None:
        """Page on from `checkpoint` until the end, a cancel or a failure, or after `limit` pages unless
        `go_on()` says the run may keep its lease for another `limit` (pages fetched ahead stay in flight).

        Pages are fetched ahead of the commits (PageFeed), the ones fetched by the time the previous
        commit ends are committed together, and page events go out without waiting for the broker
        between commits: every confirm is awaited before this returns.
        """
        if await self.store.cancel_requested(self.run.run_id):
            await self._cancel(checkpoint)
            return
        feed = PageFeed(
            source=self.source,
            config=self.config,
            start=checkpoint,
            total=total,
            window=self.config.parallel_pages,
            max_pages=limit if go_on is None else None,
        )
        try:
            await self._page_on(feed, checkpoint, limit=limit, go_on=go_on)
        except BaseException:
            self._reports.forget()
            raise
        finally:
            await feed.aclose()
        await self._reports.confirm_all()

    async def _page_on(
        self, feed: PageFeed, checkpoint: SyncCheckpoint, *, limit: int | None, go_on: GoOn | None
    ) -> None:
        taken = 0  # pages committed in this slice
        while not checkpoint.done:
            if self.stopping is not None and self.stopping.is_set():
                self._log.info("sync_run_handed_over", pages=checkpoint.page)
                raise ShutdownInterrupted  # uncommitted: the next owner resumes from the checkpoint
            if limit is not None and taken >= limit:
                if go_on is None or not await go_on():
                    return
                taken = 0
            room = self.settings.sync_commit_max_pages
            fetched = await feed.take(room if limit is None else min(room, limit - taken))
            if isinstance(fetched, FetchFailed):
                await self._fail(checkpoint, fetched.reason)
                return
            if not await self._commit(checkpoint, fetched):
                return
            checkpoint = fetched[-1].following
            taken += len(fetched)

    async def _commit(self, checkpoint: SyncCheckpoint, fetched: list[Fetched]) -> bool:
        """Classify and commit fetched pages; False when the run stopped (cancelled, superseded)."""
        committed = await commit_pages(self.store, self.run, self.config, self.settings, checkpoint, fetched)
        if isinstance(committed, Cancelled):
            await self._cancel(checkpoint)
            return False
        if committed is None:
            self._log.info("sync_page_superseded", page=checkpoint.page + 1)
            return False
        last = len(committed.counts) - 1
        for index, counts in enumerate(committed.counts):
            await self._report(
                checkpoint.page + 1 + index, counts, committed.closing if index == last else None
            )
        return True

    async def _fail(self, checkpoint: SyncCheckpoint, reason: str) -> None:
        # A page fetched ahead may fail after a cancel came in: the cancel is what the user asked for.
        if await self.store.cancel_requested(self.run.run_id):
            await self._cancel(checkpoint)
        else:
            await self.close("failed", reason)

    async def _cancel(self, checkpoint: SyncCheckpoint) -> None:
        await self.close(
            "cancelled", f"cancelled at a page boundary after {checkpoint.page} pages; checkpoint kept"
        )

    async def close(self, status: str, reason: str | None) -> None:
        """End the run outside a page (failure, cancel) and tell observers."""
        await close_run(self.store, self.publisher, self.run, status=status, reason=reason)

    async def _report(self, number: int, counts: PageCounts, closing: Closing | None) -> None:
        run = self.run
        recorded = SyncPageRecorded(
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
        count_sync_records(**recorded.model_dump(include=_COUNTED_OUTCOMES), duplicate=recorded.skipped)
        await self._reports.send([recorded])
        self._log.info("sync_page_committed", **recorded.model_dump(include=_LOGGED_FIGURES))
        if closing is not None:
            self._log.info("sync_run_closed", status=closing.status, reason=closing.reason)
            await publish_finished(self.publisher, run, closing)
