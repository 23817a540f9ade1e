"""PageFeed: pages fetched ahead in parallel (offset) or read ahead (cursor), handed over exactly in order."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from services.sync_worker.page_commit import Fetched
from services.sync_worker.page_feed import FetchFailed, PageFeed
from shared.connectors import ConnectorDeps, HttpSettings
from shared.inbound.checkpoint import SyncCheckpoint
from shared.inbound.config import InboundConfig
from shared.inbound.mapping import MappedTopic
from shared.inbound.pager import Pager, PagingLimits
from shared.inbound.source import build_inbound_source
from tests.unit.connectors.connector_fakes import FakeSleep
from tests.unit.inbound.inbound_fakes import dmp_record, inbound_config


class SlowSource:
    """An async DMP answering each request after a pause; counts requests and how many overlap."""

    def __init__(self, records: int, *, cap: int | None = None, fail_at: int | None = None) -> None:
        self.records = [dmp_record(index) for index in range(records)]
        self.cap, self.fail_at = cap, fail_at
        self.offsets: list[int] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.transport = httpx.MockTransport(self._handle)

    async def _handle(self, request: httpx.Request) -> httpx.Response:
        params = request.url.params
        if request.url.path.endswith("/count"):
            return httpx.Response(200, json={"meta": [{"total": len(self.records)}]})
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await asyncio.sleep(0.01)
        self.in_flight -= 1
        start = int(params.get("offset") or params.get("cursor") or 0)
        self.offsets.append(start)
        if start == self.fail_at:
            return httpx.Response(500, json={"error": "down"})
        size = min(int(params["limit"]), self.cap or 10**9)
        end = start + size
        body: dict[str, Any] = {"data": {"items": self.records[start:end]}, "meta": [{"total": len(self)}]}
        body["paging"] = {"next_cursor": str(end) if end < len(self) else None}
        return httpx.Response(200, json=body)

    def __len__(self) -> int:
        return len(self.records)


def feed_for(
    api: SlowSource, config: InboundConfig, *, window: int, max_pages: int | None = None
) -> tuple[PageFeed, FakeSleep]:
    sleep = FakeSleep()
    source = build_inbound_source(
        config,
        "none",
        None,
        settings=HttpSettings(max_attempts=1),
        deps=ConnectorDeps(transport=api.transport, sleep=sleep, clock=lambda: 0.0),
        pager=Pager(config, PagingLimits()),
    )
    feed = PageFeed(
        source=source,
        config=config,
        start=SyncCheckpoint(),
        total=len(api),
        window=window,
        max_pages=max_pages,
    )
    return feed, sleep


async def drain(feed: PageFeed, most: int = 3) -> tuple[list[Fetched], FetchFailed | None]:
    pages: list[Fetched] = []
    try:
        while not (pages and pages[-1].following.done):
            taken = await feed.take(most)
            if isinstance(taken, FetchFailed):
                return pages, taken
            pages += taken
    finally:
        await feed.aclose()
    return pages, None


def source_ids(pages: list[Fetched]) -> list[str | None]:
    return [record.source_id for page in pages for record in page.records if isinstance(record, MappedTopic)]


async def test_offset_pages_are_fetched_in_parallel_and_handed_over_in_order() -> None:
    api = SlowSource(20)
    feed, _sleep = feed_for(api, inbound_config(), window=4)
    pages, failed = await drain(feed)
    assert failed is None
    assert [page.following.page for page in pages] == list(range(1, 11))
    assert [page.following.offset for page in pages] == list(range(2, 21, 2))
    assert source_ids(pages) == [f"dmp-{index:04d}" for index in range(20)]
    assert sorted(api.offsets) == list(range(0, 20, 2))  # each page asked once, none past the total
    assert 2 <= api.most_in_flight <= 4
    assert pages[-1].count.recount == 20


async def test_the_high_water_mark_carries_from_page_to_page() -> None:
    api = SlowSource(6)
    api.records[1]["updated_at"] = "2030-01-01T00:00:00Z"  # on the first page only
    feed, _sleep = feed_for(api, inbound_config(incremental_field="updated_at"), window=4)
    pages, _failed = await drain(feed)
    assert [page.following.high_water_mark for page in pages] == ["2030-01-01T00:00:00Z"] * 3


async def test_a_server_capping_page_sizes_loses_and_repeats_nothing() -> None:
    api = SlowSource(9, cap=1)  # asked for 2, answers 1: every guessed offset after a page is wrong once
    feed, _sleep = feed_for(api, inbound_config(), window=4)
    pages, failed = await drain(feed)
    assert failed is None
    assert source_ids(pages) == [f"dmp-{index:04d}" for index in range(9)]
    assert [page.following.offset for page in pages] == list(range(1, 10))


async def test_a_failing_page_comes_after_the_pages_before_it() -> None:
    api = SlowSource(20, fail_at=6)
    feed, _sleep = feed_for(api, inbound_config(), window=8)
    pages, failed = await drain(feed, most=10)
    assert [page.following.page for page in pages] == [1, 2, 3]
    assert failed is not None
    assert failed.reason.startswith("page 4 (offset 6): ")


async def test_a_step_feed_fetches_exactly_its_page() -> None:
    api = SlowSource(20)
    feed, _sleep = feed_for(api, inbound_config(), window=8, max_pages=1)
    taken = await feed.take(10)
    await asyncio.sleep(0.05)  # nothing else is asked for meanwhile
    await feed.aclose()
    assert isinstance(taken, list)
    assert [page.following.page for page in taken] == [1]
    assert api.offsets == [0]


async def test_cursor_pages_are_read_ahead_one_request_at_a_time() -> None:
    api = SlowSource(10)
    config = inbound_config(
        pagination_type="cursor",
        pagination_params={
            "cursor_param": "cursor",
            "page_size": 2,
            "cursor_response_path": "paging.next_cursor",
        },
    )
    feed, _sleep = feed_for(api, config, window=4)
    pages, failed = await drain(feed)
    assert failed is None
    assert source_ids(pages) == [f"dmp-{index:04d}" for index in range(10)]
    assert api.most_in_flight == 1


async def test_parallel_pages_share_the_connections_rate_budget() -> None:
    api = SlowSource(20)
    feed, sleep = feed_for(api, inbound_config(rate_limit_rps=5), window=8)
    pages, _failed = await drain(feed)
    assert len(pages) == 10
    # Ten page requests and the recount, one slot every 0.2 s on a clock standing still: each request
    # waited for its own slot, however many were in flight.
    assert [round(wait, 3) for wait in sleep.calls] == [round(0.2 * slot, 3) for slot in range(1, 11)]
