"""Inbound sync end to end: gateway → outbox → Kafka → sync-worker → mock DMP → Postgres → status API."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from tests.e2e.conftest import System
from tests.e2e.helpers import org_client, wait_for_run
from tests.e2e.sync_helpers import (
    connection_topics,
    create_dmp_connection,
    feed_records,
    figures,
    set_records,
    start_sync,
    sync_to_end,
)

pytestmark = pytest.mark.e2e

RECORDS = 20_000


def all_of(kind: str, count: int, pages: int, **extra: Any) -> dict[str, Any]:
    base = {"status": "succeeded", "total": count, "processed": count, "inserted": 0, "updated": 0}
    return {**base, "unchanged": 0, "invalid": 0, "pages": pages, kind: count, **extra}


async def test_twenty_thousand_records_by_offset_then_a_full_rerun_finds_all_unchanged(
    system: System, pool: asyncpg.Pool[Any]
) -> None:
    async with (
        await org_client(pool, system.gateway_url) as api,
        httpx.AsyncClient(base_url=system.mock_url) as mock,
    ):
        await mock.post("/admin/reset")
        await set_records(mock, feed_records(RECORDS, decoys=500, seed=20))
        connection_id = await create_dmp_connection(api, system.mock_url)

        first = await sync_to_end(api, connection_id)
        second = await sync_to_end(api, connection_id)

        topic = await pool.fetchrow(
            "SELECT name, parent_category, path, cpm, attributes FROM topics "
            "WHERE source_connection_id = $1 AND external_id = 'dmp-0000042'",
            uuid.UUID(connection_id),
        )
        source = (await mock.get("/admin/segments/dmp", timeout=60)).json()["segments"][41]

    assert figures(first) == all_of("inserted", RECORDS, pages=20), first
    assert first["statusReason"] is None
    assert await connection_topics(pool, connection_id) == RECORDS  # the 500 decoys were filtered out
    assert figures(second) == all_of("unchanged", RECORDS, pages=20), second
    assert topic is not None
    assert topic["name"] == source["segment_name"]
    assert (topic["parent_category"], list(topic["path"])) == (
        source["category"]["name"],
        [source["category"]["name"], source["segment_name"]],
    )
    assert topic["attributes"] == {
        "country": source["attributes"]["country"],
        "reach": source["attributes"]["reach"],
    }


async def test_twenty_thousand_records_by_cursor_then_fifty_changes_arrive_incrementally(
    system: System, pool: asyncpg.Pool[Any]
) -> None:
    async with (
        await org_client(pool, system.gateway_url) as api,
        httpx.AsyncClient(base_url=system.mock_url) as mock,
    ):
        await mock.post("/admin/reset")
        records = feed_records(RECORDS, seed=21)
        await set_records(mock, records)
        connection_id = await create_dmp_connection(
            api,
            system.mock_url,
            cursor=True,
            sync_mode="incremental",
            incremental_field="updated_at",
            incremental_param="updated_since",
        )
        first = await sync_to_end(api, connection_id)

        for index in range(0, RECORDS, RECORDS // 50):
            records[index] = {
                **records[index],
                "segment_name": f"Renamed {index}",
                "updated_at": "2025-03-01T12:00:00Z",
            }
        await set_records(mock, records)
        requests_before = (await mock.get("/admin/stats/dmp")).json()["requests"]
        second = await sync_to_end(api, connection_id)
        requests = (await mock.get("/admin/stats/dmp")).json()["requests"] - requests_before
        renamed = await pool.fetchval(
            "SELECT count(*) FROM topics WHERE source_connection_id = $1 AND name LIKE 'Renamed %'",
            uuid.UUID(connection_id),
        )

    assert figures(first) == all_of("inserted", RECORDS, pages=20), first
    assert figures(second) == all_of("updated", 50, pages=1), second
    assert requests == 3  # count, one page of the 50 changed records, recount: nothing fetched twice
    assert renamed == 50
    assert await connection_topics(pool, connection_id) == RECORDS


async def test_a_total_that_shrinks_mid_run_leaves_the_run_incomplete_with_both_figures(
    system: System, pool: asyncpg.Pool[Any]
) -> None:
    async with (
        await org_client(pool, system.gateway_url) as api,
        httpx.AsyncClient(base_url=system.mock_url) as mock,
    ):
        await mock.post("/admin/reset")
        await set_records(mock, feed_records(2000, seed=22))
        await mock.put("/admin/faults/dmp", json={"shrink_after_pages": 2, "shrink_by": 150})
        # One request at a time: which pages the source serves before it shrinks is then fixed (with
        # pages in parallel the last one may be served first, whole, and 2000 ids are seen).
        connection_id = await create_dmp_connection(
            api, system.mock_url, pagination_params={"page_size": 250}, parallel_pages=1
        )
        final = await sync_to_end(api, connection_id)
        await mock.delete("/admin/faults/dmp")

    assert (final["status"], final["total"], final["inserted"]) == ("incomplete", 2000, 1850)
    assert final["statusReason"] == (
        "the source's total changed during the run: 2000 at the start, 1850 at the end; "
        "1850 distinct source ids seen"
    )


async def test_a_source_repeating_its_cursor_fails_the_run_in_bounded_time(
    system: System, pool: asyncpg.Pool[Any]
) -> None:
    async with (
        await org_client(pool, system.gateway_url) as api,
        httpx.AsyncClient(base_url=system.mock_url) as mock,
    ):
        await mock.post("/admin/reset")
        await set_records(mock, feed_records(5000, seed=23))
        await mock.put("/admin/faults/dmp", json={"repeat_cursor": True})
        connection_id = await create_dmp_connection(api, system.mock_url, cursor=True)
        started = time.monotonic()
        final = await sync_to_end(api, connection_id, timeout=60)
        elapsed = time.monotonic() - started
        await mock.delete("/admin/faults/dmp")

    assert (final["status"], final["pages"], final["inserted"]) == ("failed", 1, 1000)
    assert final["statusReason"].startswith("page 2 (cursor ")
    assert "the source returned a cursor it had already given" in final["statusReason"]
    assert elapsed < 30


async def test_step_mode_pages_one_at_a_time_cancel_keeps_the_checkpoint_and_rejects_are_listed(
    system: System, pool: asyncpg.Pool[Any]
) -> None:
    async with (
        await org_client(pool, system.gateway_url) as api,
        httpx.AsyncClient(base_url=system.mock_url) as mock,
    ):
        await mock.post("/admin/reset")
        records = feed_records(1000, seed=24)
        records[3]["segment_name"] = ""
        records[250]["price"] = {"cpm": "free"}
        await set_records(mock, records)
        connection_id = await create_dmp_connection(
            api, system.mock_url, pagination_params={"page_size": 200}
        )
        run_id = await start_sync(api, connection_id, mode="step")
        run_url = f"/api/connections/{connection_id}/sync/run/{run_id}"
        after_steps = [(await api.post(f"{run_url}/page")).json() for _ in range(2)]
        cancelled = (await api.post(f"{run_url}/cancel")).json()
        final = await wait_for_run(api, connection_id, run_id, kind="sync", timeout=60)
        await asyncio.sleep(0.5)
        late_step = await api.post(f"{run_url}/page")
        rejects = (await api.get(f"{run_url}/rejects", params={"limit": 1})).json()
        rest = (await api.get(f"{run_url}/rejects", params={"cursor": rejects["nextCursor"]})).json()
        auto_run = await start_sync(api, connection_id)
        # The guide's loop on an auto run: the worker pages, the call answers once it has moved on.
        looped = await api.post(f"/api/connections/{connection_id}/sync/run/{auto_run}/page")
        await wait_for_run(api, connection_id, auto_run, kind="sync", timeout=60)  # leave the DMP idle

    assert [(s["pages"], s["processed"]) for s in after_steps] == [(1, 200), (2, 400)]
    assert after_steps[0]["total"] == 1000
    assert cancelled["status"] in {"running", "cancelled"}
    assert (final["status"], final["pages"], final["inserted"], final["invalid"]) == ("cancelled", 2, 398, 2)
    assert final["statusReason"] == "cancelled at a page boundary after 2 pages; checkpoint kept"
    assert late_step.json()["status"] == "cancelled"
    assert [(r["page"], r["position"], r["sourceId"]) for r in rejects["items"] + rest["items"]] == [
        (1, 3, "dmp-0000004"),
        (2, 50, "dmp-0000251"),
    ]
    assert rejects["items"][0]["payload"]["segment_name"] == ""
    assert rest["items"][0]["reason"] == "cpm 'free' is not a number"
    assert rest["nextCursor"] is None
    assert {error["itemId"] for error in final["errors"]} == {"dmp-0000004", "dmp-0000251"}
    assert looped.status_code == 200
    assert looped.json()["pages"] >= 1 or looped.json()["done"]
