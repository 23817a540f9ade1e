"""P3r: a sync against a slow source (the mock DMP answering each request 50 ms late), against a
sequential pager doing the same fetch + upsert one page at a time."""

from __future__ import annotations

from typing import Any

from bench.config import BenchConfig
from bench.harness import ScenarioFailed, median, rate, ratio
from bench.p3_sync import LISTING, dmp_connection, fetch_and_upsert_in_series, synced_by_activator
from bench.world import World

SOURCE_LATENCY_MS = 50


def cursor_connection(mock_url: str, page_size: int) -> dict[str, Any]:
    """The same records through the DMP's cursor listing: a cursor is only known from the page before."""
    body = dmp_connection(mock_url, page_size)
    body["config"]["base_url"] = f"{mock_url}{LISTING}/cursor"
    body["config"]["pagination_type"] = "cursor"
    body["config"]["pagination_params"] = {
        "cursor_param": "cursor",
        "limit_param": "page_size",
        "page_size": page_size,
        "cursor_response_path": "paging.next_cursor",
    }
    return body


async def run_p3r(world: World, config: BenchConfig) -> dict[str, Any]:
    """P3r figures: offset paging in parallel and cursor paging read ahead, each against the sequential
    pager, all in the same run with the same latency."""
    response = await world.mock.post("/admin/dmp/generate", json={"count": config.p3_records, "seed": 9})
    if response.status_code != 200:
        raise ScenarioFailed(f"dmp generate: {response.status_code} {response.text[:200]}")
    fault = await world.mock.put("/admin/faults/dmp", json={"latency_ms": SOURCE_LATENCY_MS})
    if fault.status_code >= 300:
        raise ScenarioFailed(f"dmp latency fault: {fault.status_code} {fault.text[:200]}")
    offset: list[float] = []
    cursor: list[float] = []
    sequential: list[float] = []
    try:
        for _ in range(config.repetitions):
            offset.append(rate(config.p3_records, await synced_by_activator(world, config)))
            cursor_body = cursor_connection(world.mock_url, config.p3_page_size)
            cursor.append(rate(config.p3_records, await synced_by_activator(world, config, cursor_body)))
            seconds = await fetch_and_upsert_in_series(world, config.p3_records, config.p3_page_size)
            sequential.append(rate(config.p3_records, seconds))
    finally:
        await world.mock.delete("/admin/faults/dmp")
    records, baseline = median(offset), median(sequential)
    return {
        "available": True,
        "records_per_s": records,
        "sequential_records_per_s": baseline,
        "ratio_vs_sequential": ratio(records, baseline),
        "cursor_records_per_s": median(cursor),
        "cursor_ratio_vs_sequential": ratio(median(cursor), baseline),
        "parallel_pages": 8,
        "latency_ms": SOURCE_LATENCY_MS,
        "records": config.p3_records,
        "page_size": config.p3_page_size,
        "repetitions": {"offset": offset, "cursor": cursor, "sequential": sequential},
    }
