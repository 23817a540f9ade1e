"""A sync run's pages fetched ahead of their commits, handed over in order: offsets in parallel, cursors
one after another."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from dataclasses import dataclass

from services.sync_worker.closing import SourceCount
from services.sync_worker.page_commit import Fetched
from shared.inbound.checkpoint import SyncCheckpoint
from shared.inbound.config import InboundConfig
from shared.inbound.mapping import RecordMapper
from shared.inbound.pager import FetchedPage, PagingError
from shared.inbound.source import InboundSource, SourceError
from shared.inbound.watermarks import later, page_mark


@dataclass(frozen=True, slots=True)
class FetchFailed:
    reason: str


class PageFeed:
    """Fetches the pages after `start` ahead of their commits; `take` hands them over in paging order.

    At most `window` pages are in flight or waiting to be taken. Offset paging asks for the next `window`
    offsets at once, each guessed from the last page's length; the pager still advances the checkpoint
    page by page, in order, and a page whose offset turns out wrong (a short page moved every later one)
    is dropped and asked again, so what is handed over is exactly what one-at-a-time paging would get.
    A cursor is only known from the page before it: there the window is how far reading runs ahead.
    `max_pages` bounds the pages fetched at all (a step run fetches exactly its one page).
    """

    def __init__(
        self,
        *,
        source: InboundSource,
        config: InboundConfig,
        start: SyncCheckpoint,
        total: int,
        window: int,
        max_pages: int | None,
    ) -> None:
        self._source = source
        self._config = config
        self._mapper = RecordMapper(config)
        self._known_total = total if config.count_endpoint else None
        self._window = max(1, window if max_pages is None else min(window, max_pages))
        self._max_pages = max_pages
        self._free = self._window  # requests that may start before a page is taken
        self._room = asyncio.Event()
        self._ready: deque[Fetched | FetchFailed] = deque()
        self._arrived = asyncio.Event()
        self._inflight: deque[tuple[int, asyncio.Task[FetchedPage]]] = deque()
        self._stride = config.pagination_params.page_size  # how far apart the guessed offsets are
        self._producer = asyncio.create_task(self._produce(start))

    async def take(self, most: int) -> list[Fetched] | FetchFailed:
        """The next pages fetched, at least one and at most `most`, in order; a failure comes alone."""
        while not self._ready:
            if self._producer.done():
                raise self._producer.exception() or RuntimeError("no page left to take")
            self._arrived.clear()
            waiter = asyncio.ensure_future(self._arrived.wait())
            await asyncio.wait({waiter, self._producer}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
        if isinstance(head := self._ready[0], FetchFailed):
            return head
        pages: list[Fetched] = []
        while self._ready and len(pages) < most and isinstance(self._ready[0], Fetched):
            page = self._ready.popleft()
            assert isinstance(page, Fetched)
            pages.append(page)
        self._give_back(len(pages))
        return pages

    async def aclose(self) -> None:
        """Stop fetching; pages not taken are dropped (the next owner fetches them from the checkpoint)."""
        tasks = [self._producer, *(task for _offset, task in self._inflight)]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task

    def _give_back(self, pages: int) -> None:
        self._free += pages
        self._room.set()

    async def _room_for_one(self) -> None:
        while self._free <= 0:
            self._room.clear()
            await self._room.wait()
        self._free -= 1

    def _emit(self, item: Fetched | FetchFailed) -> None:
        self._ready.append(item)
        self._arrived.set()

    async def _produce(self, start: SyncCheckpoint) -> None:
        label = ""
        try:
            checkpoint, fetched_pages = start, 0
            while not checkpoint.done and (self._max_pages is None or fetched_pages < self._max_pages):
                label = f"page {checkpoint.page + 1} ({checkpoint.position(self._config.pagination_type)})"
                page = await self._next_page(checkpoint, fetched_pages)
                following = self._source.pager.advance(checkpoint, page, self._known_total)
                size, count = self._config.pagination_params.page_size, len(page.items)
                # A server capping page sizes keeps its cap: guess the next offsets by its page length.
                self._stride = count if 0 < count < size else size
                fetched = await self._fetched(page, following)
                self._emit(fetched)
                fetched_pages += 1
                if self._inflight and self._inflight[0][0] != following.offset:
                    self._drop_guesses()  # a short page moved every later offset: ask again from it
                checkpoint = fetched.following  # with the high-water mark so far
        except (SourceError, PagingError) as exc:
            self._emit(FetchFailed(f"{label}: {exc}"))
        finally:
            self._drop_guesses()

    async def _next_page(self, checkpoint: SyncCheckpoint, fetched_pages: int) -> FetchedPage:
        """The page after `checkpoint`, with the offsets after it requested while there is room."""
        if self._config.pagination_type != "offset":
            await self._room_for_one()
            return await self._source.page(checkpoint)
        if not self._inflight:
            await self._room_for_one()
            self._request(checkpoint, checkpoint.offset)
        stride = self._stride
        while self._free > 0 and self._may_guess(fetched_pages):
            offset = self._inflight[-1][0] + stride
            if self._known_total is not None and offset >= self._known_total:
                break  # the listing ends before it
            self._free -= 1
            self._request(checkpoint, offset)
        _offset, task = self._inflight.popleft()
        return await task

    def _may_guess(self, fetched_pages: int) -> bool:
        return self._max_pages is None or fetched_pages + len(self._inflight) < self._max_pages

    def _request(self, checkpoint: SyncCheckpoint, offset: int) -> None:
        at = checkpoint.model_copy(update={"offset": offset})
        self._inflight.append((offset, asyncio.create_task(self._source.page(at))))

    def _drop_guesses(self) -> None:
        while self._inflight:
            _offset, task = self._inflight.pop()
            task.cancel()
            task.add_done_callback(_forget)
            self._give_back(1)

    async def _fetched(self, page: FetchedPage, following: SyncCheckpoint) -> Fetched:
        """The mapped page, with the recount when it is the last one."""
        config = self._config
        if config.incremental_field:
            mark = later(following.high_water_mark, page_mark(page.items, config.incremental_field))
            following = following.model_copy(update={"high_water_mark": mark})
        recount: int | None = None
        recount_error: str | None = None
        if following.done and self._known_total is not None:
            try:
                recount = await self._source.count(following.since)
            except SourceError as exc:
                recount_error = exc.message
        records = self._mapper.map_page(page.items)
        return Fetched(records, following, SourceCount(self._known_total, recount, recount_error))


def _forget(task: asyncio.Task[FetchedPage]) -> None:
    # A dropped guess may have failed already: its error is not the run's (the page is asked again).
    if not task.cancelled():
        task.exception()
