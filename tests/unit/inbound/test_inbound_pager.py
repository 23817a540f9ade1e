"""The pager's guards: repeated cursors and pages stop the run; empty and short pages end it correctly."""

from __future__ import annotations

import pytest

from shared.inbound.checkpoint import SyncCheckpoint
from shared.inbound.pager import FetchedPage, Pager, PagingError, PagingLimits, digest
from tests.unit.inbound.inbound_fakes import inbound_config

CURSOR_CONFIG = inbound_config(
    pagination_type="cursor",
    pagination_params={
        "cursor_param": "cursor",
        "limit_param": "page_size",
        "page_size": 2,
        "cursor_response_path": "paging.next_cursor",
    },
)


def page(*ids: int, next_cursor: str | None = None) -> FetchedPage:
    items = [{"segment_id": i} for i in ids]
    return FetchedPage(items=items, next_cursor=next_cursor, content_hash=digest(repr(items)))


def offset_pager() -> Pager:
    return Pager(inbound_config(), PagingLimits())


def test_offset_params_carry_offset_and_limit() -> None:
    assert offset_pager().params(SyncCheckpoint(offset=40)) == {"limit": "2", "offset": "40"}


def test_offset_paging_stops_when_the_total_is_reached() -> None:
    pager = offset_pager()
    first = pager.advance(SyncCheckpoint(), page(1, 2), total=3)
    last = pager.advance(first, page(3), total=3)
    assert (first.page, first.offset, first.done) == (1, 2, False)
    assert (last.page, last.offset, last.done, last.fetched) == (2, 3, True, 3)


def test_a_short_page_before_the_total_is_a_capped_page_not_the_end() -> None:
    after = offset_pager().advance(SyncCheckpoint(), page(1), total=10)
    assert (after.offset, after.done) == (1, False)  # advanced by what came, not by page_size


def test_a_short_page_ends_the_listing_when_no_total_is_known() -> None:
    assert offset_pager().advance(SyncCheckpoint(), page(1), total=None).done


def test_an_empty_page_ends_the_listing_even_before_the_total() -> None:
    after = offset_pager().advance(SyncCheckpoint(offset=4, page=2), page(), total=10)
    assert (after.done, after.offset, after.page) == (True, 4, 3)


def test_a_page_repeating_the_previous_one_stops_the_run() -> None:
    pager = offset_pager()
    first = pager.advance(SyncCheckpoint(), page(1, 2), total=10)
    with pytest.raises(PagingError, match="repeats the previous page's content"):
        pager.advance(first, page(1, 2), total=10)


def test_more_records_than_the_total_allows_stop_a_runaway() -> None:
    with pytest.raises(PagingError, match="stopping a runaway"):
        offset_pager().advance(SyncCheckpoint(fetched=21), page(1, 2), total=10)


def test_cursor_paging_follows_the_cursor_until_there_is_none() -> None:
    pager = Pager(CURSOR_CONFIG, PagingLimits())
    assert pager.params(SyncCheckpoint()) == {"page_size": "2"}
    first = pager.advance(SyncCheckpoint(), page(1, 2, next_cursor="c1"), total=None)
    assert pager.params(first) == {"page_size": "2", "cursor": "c1"}
    short = pager.advance(first, page(3, next_cursor="c2"), total=None)
    assert not short.done  # with cursors, only the absent cursor ends the listing
    assert pager.advance(short, page(4, next_cursor=""), total=None).done


def test_a_repeated_cursor_stops_the_run_at_once() -> None:
    pager = Pager(CURSOR_CONFIG, PagingLimits())
    first = pager.advance(SyncCheckpoint(), page(1, 2, next_cursor="c1"), total=None)
    with pytest.raises(PagingError, match="cursor it had already given \\('c1'\\)"):
        pager.advance(first, page(3, 4, next_cursor="c1"), total=None)


def test_a_cursor_cycle_is_caught_from_the_checkpoint_alone() -> None:
    pager = Pager(CURSOR_CONFIG, PagingLimits())
    checkpoint = SyncCheckpoint()
    for number, cursor in enumerate(["a", "b", "c"]):
        checkpoint = pager.advance(
            checkpoint, page(2 * number, 2 * number + 1, next_cursor=cursor), total=None
        )
    resumed = SyncCheckpoint.model_validate(checkpoint.model_dump(mode="json"))  # as after a crash
    with pytest.raises(PagingError, match="already given"):
        pager.advance(resumed, page(7, 8, next_cursor="a"), total=None)


def test_empty_pages_that_keep_naming_a_cursor_are_bounded() -> None:
    pager = Pager(CURSOR_CONFIG, PagingLimits(max_empty_pages=3))
    checkpoint = SyncCheckpoint()
    checkpoint = pager.advance(checkpoint, page(next_cursor="e1"), total=None)
    checkpoint = pager.advance(checkpoint, page(next_cursor="e2"), total=None)
    with pytest.raises(PagingError, match="3 empty pages in a row"):
        pager.advance(checkpoint, page(next_cursor="e3"), total=None)
