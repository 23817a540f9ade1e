"""P3 sync throughput: records from the mock DMP into the taxonomy, against a bare loop fetching the same pages."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from bench.config import BenchConfig
from bench.harness import (
    ScenarioFailed,
    create_connection,
    median,
    new_org,
    rate,
    ratio,
    require_succeeded,
    start_run,
    wait_processed,
)
from bench.procstats import CpuMeter, cpu_seconds, cpu_since, peak_rss_mb, reset_peaks
from bench.world import World
from shared.db.topics import TopicFields, upsert_topics

LISTING = "/dmp/api/v1/segments"


def dmp_connection(mock_url: str, page_size: int) -> dict[str, Any]:
    """An inbound connection reading the mock DMP with offset paging."""
    return {
        "name": "p3 dmp",
        "platform": "custom_api",
        "direction": "inbound",
        "authType": "none",
        "config": {
            "base_url": f"{mock_url}{LISTING}",
            "response_path": "data.items",
            "count_endpoint": f"{LISTING}/count",
            "count_response_path": "meta.0.total",
            "pagination_type": "offset",
            "pagination_params": {"offset_param": "offset", "limit_param": "limit", "page_size": page_size},
            "field_mappings": [
                {"source": "segment_name", "target": "topic_name"},
                {"source": "category.name", "target": "parent_category"},
                {"source": "description", "target": "description"},
                {"source": "price.cpm", "target": "cpm"},
                {"source": "attributes.country", "target": "attributes.country"},
            ],
            "source_id_field": "segment_id",
        },
    }


async def synced_by_activator(
    world: World, config: BenchConfig, connection: dict[str, Any] | None = None
) -> float:
    """Seconds from the sync request to the run closed, for a new org (every record an insert)."""
    org = await new_org(world.pool, world.gateway_url)
    try:
        body = connection or dmp_connection(world.mock_url, config.p3_page_size)
        connection_id = await create_connection(org.api, body)
        started = time.perf_counter()
        run_id = await start_run(org.api, connection_id, "sync")
        finished = await wait_processed(world.pool, run_id, kind="sync")
        await require_succeeded(world.pool, run_id, config.p3_records)
        return finished - started
    finally:
        await org.api.aclose()


async def bare_pages(client: httpx.AsyncClient, page_size: int) -> AsyncIterator[list[dict[str, Any]]]:
    """The DMP's count, then each page's records, fetched and parsed in series by a bare client."""
    total = (await client.get(f"{LISTING}/count")).json()["meta"][0]["total"]
    for offset in range(0, total, page_size):
        response = await client.get(LISTING, params={"offset": offset, "limit": page_size})
        yield response.json()["data"]["items"]


async def fetched_by_bare_client(world: World, config: BenchConfig) -> float:
    """Seconds for one httpx client to fetch and parse the same count and pages in series: the ceiling."""
    async with httpx.AsyncClient(base_url=world.mock_url, timeout=30) as client:
        started = time.perf_counter()
        seen = 0
        async for records in bare_pages(client, config.p3_page_size):
            seen += len(records)
        elapsed = time.perf_counter() - started
    if seen != config.p3_records:
        raise ScenarioFailed(f"ceiling loop saw {seen} of {config.p3_records} records")
    return elapsed


async def stored_by_bare_loop(world: World, config: BenchConfig) -> float:
    """Seconds for a hand-written loop to fetch each page and upsert its records, one transaction per page.

    What storing the records costs on this machine with nothing else: no classification, checkpoint,
    dedupe, counters or events - the floor under any sync that keeps the taxonomy in Postgres.
    """
    return await fetch_and_upsert_in_series(world, config.p3_records, config.p3_page_size)


async def fetch_and_upsert_in_series(world: World, records_expected: int, page_size: int) -> float:
    """Seconds for the bare loop: one page at a time, fetched, then upserted in its own transaction (the
    way a sequential pager such as Airbyte's low-code CDK or dlt's rest_api source pages)."""
    org = await new_org(world.pool, world.gateway_url)
    await org.api.aclose()
    async with httpx.AsyncClient(base_url=world.mock_url, timeout=30) as client:
        started = time.perf_counter()
        stored = 0
        async for records in bare_pages(client, page_size):
            topics = [_bare_topic(record) for record in records]
            async with world.pool.acquire() as connection, connection.transaction():
                stored += len(await upsert_topics(connection, org.org_id, topics))
        elapsed = time.perf_counter() - started
    if stored != records_expected:
        raise ScenarioFailed(f"fetch-and-upsert loop stored {stored} of {records_expected} records")
    return elapsed


def postgres_backends(database: str) -> dict[str, int]:
    """Pid of every Postgres backend serving `database`, when Postgres runs on this host (else none)."""
    backends: dict[str, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().split(b"\0")[0].decode()
            except OSError:
                continue
            if command.startswith("postgres: ") and f" {database} " in f"{command} ":
                backends[f"postgres {entry.name}"] = int(entry.name)
    return backends


async def metered(
    meter: CpuMeter, pids: dict[str, int], records: int, run: Callable[[], Awaitable[float]]
) -> float:
    """`run()`'s seconds, its stretch counted in `meter` for `pids` (and `postgres` for the backends)."""
    before = cpu_seconds(pids)
    seconds = await run()
    meter.add(before, pids, records)
    return seconds


def _by_role(per_record: dict[str, float]) -> dict[str, float]:
    # Backends come and go with the pools: they are summed as one figure.
    summed: dict[str, float] = {}
    for name, ms in per_record.items():
        role = "postgres" if name.startswith("postgres ") else name
        summed[role] = round(summed.get(role, 0.0) + ms, 3)
    return summed


def _bare_topic(record: dict[str, Any]) -> TopicFields:
    cpm = record.get("price", {}).get("cpm")
    return TopicFields(
        name=record["segment_name"],
        parent_category=record.get("category", {}).get("name"),
        description=record.get("description") or "",
        external_id=str(record["segment_id"]),
        cpm=Decimal(str(cpm)) if cpm is not None else None,
        attributes={"country": record.get("attributes", {}).get("country")},
    )


async def run_p3(world: World, config: BenchConfig) -> tuple[dict[str, Any], dict[str, float]]:
    """P3 figures, and the services' peak RSS during it (for P5)."""
    response = await world.mock.post("/admin/dmp/generate", json={"count": config.p3_records, "seed": 8})
    if response.status_code != 200:
        raise ScenarioFailed(f"dmp generate: {response.status_code} {response.text[:200]}")
    reset_peaks(world.pids())
    cpu_before = cpu_seconds(world.pids())
    activator: list[float] = []
    ceiling: list[float] = []
    bare_store: list[float] = []
    # CPU per record of every process on the path (Postgres too): on a busy 2-core machine the ratio of
    # the two throughputs follows the ratio of these costs.
    database = world.settings.database_url.rsplit("/", 1)[1].split("?")[0]
    sync_cost, bare_cost = CpuMeter(), CpuMeter()
    for _ in range(config.repetitions):
        pids = {**world.pids(), **postgres_backends(database)}
        seconds = await metered(
            sync_cost, pids, config.p3_records, lambda: synced_by_activator(world, config)
        )
        activator.append(rate(config.p3_records, seconds))
        ceiling.append(rate(config.p3_records, await fetched_by_bare_client(world, config)))
        pids = {
            "bench": os.getpid(),
            "mock-platforms": world.pids()["mock-platforms"],
            **postgres_backends(database),
        }
        seconds = await metered(
            bare_cost, pids, config.p3_records, lambda: stored_by_bare_loop(world, config)
        )
        bare_store.append(rate(config.p3_records, seconds))
    peaks = peak_rss_mb(world.pids())
    cpu = cpu_since(cpu_before, world.pids())
    records = median(activator)
    return {
        "available": True,
        "records_per_s": records,
        "ceiling_records_per_s": median(ceiling),
        "ratio": ratio(records, median(ceiling)),
        "fetch_and_upsert_records_per_s": median(bare_store),
        "ratio_vs_fetch_and_upsert": ratio(records, median(bare_store)),
        "records": config.p3_records,
        "cpu_seconds_by_service": cpu,
        "cpu_ms_per_record": _by_role(sync_cost.ms_per_item()),
        "fetch_and_upsert_cpu_ms_per_record": _by_role(bare_cost.ms_per_item()),
        "page_size": config.p3_page_size,
        "repetitions": {"activator": activator, "ceiling": ceiling, "fetch_and_upsert": bare_store},
    }, peaks
