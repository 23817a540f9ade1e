"""Cursor paging as the guide configures it (`cursor_param` and `page_size` only): where the next cursor
is found without a cursor_response_path, and when its absence may end the listing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from shared.connectors import ConnectorDeps, HttpSettings
from shared.inbound.checkpoint import SyncCheckpoint
from shared.inbound.pager import Pager, PagingError, PagingLimits
from shared.inbound.source import InboundSource, build_inbound_source
from tests.unit.connectors.connector_fakes import FakeSleep
from tests.unit.inbound.inbound_fakes import SourceApi, dmp_record, inbound_config

GUIDE_CURSOR = {"cursor_param": "cursor", "page_size": 2}
FULL_PAGE = [dmp_record(1), dmp_record(2)]


def source_answering(body: dict[str, Any]) -> tuple[InboundSource, SourceApi]:
    config = inbound_config(response_path="items", pagination_type="cursor", pagination_params=GUIDE_CURSOR)
    api = SourceApi(lambda _request: httpx.Response(200, json=body))
    source = build_inbound_source(
        config,
        "none",
        None,
        settings=HttpSettings(),
        deps=ConnectorDeps(transport=api.transport, sleep=FakeSleep()),
        pager=Pager(config, PagingLimits()),
    )
    return source, api


async def advance(
    body: dict[str, Any], checkpoint: SyncCheckpoint, total: int | None = None
) -> SyncCheckpoint:
    source, _api = source_answering(body)
    fetched = await source.page(checkpoint)
    await source.aclose()
    return source.pager.advance(checkpoint, fetched, total)


@pytest.mark.parametrize(
    ("where", "cursor"),
    [
        ({"next_cursor": "c2"}, "c2"),
        ({"nextCursor": "c2"}, "c2"),
        ({"cursor": "c2"}, "c2"),
        ({"meta": {"next_cursor": "c2"}}, "c2"),
        ({"pagination": {"nextCursor": "c2"}}, "c2"),
        ({"paging": {"next_cursor": "c2"}}, "c2"),
        ({"paging": {"cursor": 2}}, "2"),  # an integer cursor is sent as text
    ],
)
async def test_the_next_cursor_is_found_at_the_usual_places(where: dict[str, Any], cursor: str) -> None:
    after = await advance({"items": FULL_PAGE, **where}, SyncCheckpoint())
    assert (after.cursor, after.done) == (cursor, False)
    source, _api = source_answering({"items": []})
    assert source.pager.params(after) == {"limit": "2", "cursor": cursor}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"next_cursor": "top", "meta": {"next_cursor": "nested"}}, "top"),
        ({"next_cursor": None, "paging": {"next_cursor": "nested"}}, "nested"),
        ({"cursor": {"after": "x"}, "meta": {"cursor": "flat"}}, "flat"),  # an object is not a cursor
    ],
)
async def test_the_first_place_holding_a_cursor_wins(body: dict[str, Any], expected: str) -> None:
    assert (await advance({"items": FULL_PAGE, **body}, SyncCheckpoint())).cursor == expected


async def test_a_null_cursor_ends_the_listing_even_after_a_full_page() -> None:
    assert (await advance({"items": FULL_PAGE, "meta": {"next_cursor": None}}, SyncCheckpoint())).done


async def test_a_short_page_without_any_cursor_is_the_last() -> None:
    assert (await advance({"items": [dmp_record(1)]}, SyncCheckpoint())).done


async def test_a_page_without_a_cursor_after_cursors_were_found_is_the_last() -> None:
    assert (await advance({"items": FULL_PAGE}, SyncCheckpoint(page=1, cursor="c1"))).done


async def test_a_full_first_page_without_a_cursor_ends_when_the_count_is_reached() -> None:
    assert (await advance({"items": FULL_PAGE}, SyncCheckpoint(), total=2)).done


async def test_a_full_first_page_without_any_cursor_stops_the_run_instead_of_guessing() -> None:
    # Taking it as the last page would end a sync of a larger source after one page, reported as done.
    with pytest.raises(PagingError, match=r"set pagination_params\.cursor_response_path"):
        await advance({"items": FULL_PAGE, "links": {"after": "c2"}}, SyncCheckpoint(), total=10)
