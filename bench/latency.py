"""Latency (P6): 25-topic runs arriving at a steady rate against a 0 ms platform, from each run's acceptance
to each item's status being readable through the API (GET /api/runs/{id}, read each time Postgres says the
run moved, bench/run_watch.py, and every SAFETY_POLL_S), with each hop's share (bench/latency_hops.py)."""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
import uuid
from typing import Any

from bench.config import BenchConfig
from bench.harness import (
    Org,
    ScenarioFailed,
    add_topics,
    median,
    new_custom_api_connection,
    new_org,
    set_platform_latency,
    start_run,
)
from bench.latency_hops import RunSeen, hop_medians
from bench.run_watch import RunWatch, watching
from bench.step_loop import platform_batches
from bench.world import World

# Reads follow the run's notifications; a poll this often only in case one is missed. (Polling alone
# distorts: every 50 ms added 25 ms on average, every 5 ms took a core of the 2 from the services.)
SAFETY_POLL_S = 0.1
CONNECTIONS = 4
# The platform answers at once: what is measured is Activator's own path, not the platform's time.
PLATFORM_LATENCY_MS = 0


async def item_latencies(
    org: Org, watch: RunWatch, connection_id: str, topic_ids: list[str], observed: list[RunSeen]
) -> list[float]:
    """Start one run and watch its status: each item counts as readable when `processed` first covers it."""
    run_id = await start_run(org.api, connection_id, "push", topicIds=topic_ids)
    accepted, accepted_epoch = time.perf_counter(), time.time()
    moved = watch.moved(run_id)
    latencies: list[float] = []
    deadline = accepted + 120
    while time.perf_counter() < deadline:
        moved.clear()
        status: dict[str, Any] = (await org.api.get(f"/api/runs/{run_id}")).json()
        seen = time.perf_counter()
        latencies.extend(
            [(seen - accepted) * 1000] * (min(status["processed"], len(topic_ids)) - len(latencies))
        )
        if len(latencies) >= len(topic_ids):
            observed.append(RunSeen(run_id, accepted_epoch, accepted_epoch + seen - accepted))
            watch.forget(run_id)
            return latencies
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(moved.wait(), timeout=SAFETY_POLL_S)
    raise ScenarioFailed(f"latency run {run_id} did not show its {len(topic_ids)} items in 120s")


async def steady_runs(
    org: Org,
    watch: RunWatch,
    connection_ids: list[str],
    topic_ids: list[str],
    config: BenchConfig,
    observed: list[RunSeen],
) -> list[float]:
    """Runs of `latency_run_topics` started every 1/rate seconds for the duration; every item's latency in ms."""
    size = config.latency_run_topics
    count = int(config.latency_runs_per_s * config.latency_duration_s)
    tasks: list[asyncio.Task[list[float]]] = []
    started = time.perf_counter()
    for index in range(count):
        await asyncio.sleep(max(0.0, started + index / config.latency_runs_per_s - time.perf_counter()))
        chunk = topic_ids[index * size : (index + 1) * size]
        tasks.append(
            asyncio.create_task(
                item_latencies(org, watch, connection_ids[index % len(connection_ids)], chunk, observed)
            )
        )
    return [latency for latencies in await asyncio.gather(*tasks) for latency in latencies]


def percentiles(latencies: list[float]) -> dict[str, float]:
    """p50, p95 and p99 in ms."""
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return {"p50": round(cuts[49], 1), "p95": round(cuts[94], 1), "p99": round(cuts[98], 1)}


async def _repetition(
    world: World, org: Org, watch: RunWatch, config: BenchConfig, repetition: int
) -> tuple[dict[str, float], dict[str, float]]:
    """One repetition on fresh connections (every item a create): its percentiles and its hops."""
    runs = int(config.latency_runs_per_s * config.latency_duration_s)
    topic_ids = await add_topics(
        world.pool, org, runs * config.latency_run_topics, f"lat{repetition}-{uuid.uuid4().hex[:6]}"
    )
    connection_ids = [
        await new_custom_api_connection(
            org.api,
            world.mock_url,
            max_concurrency=config.push_concurrency,
            name=f"lat-{uuid.uuid4().hex[:8]}",
        )
        for _ in range(CONNECTIONS)
    ]
    seen: list[RunSeen] = []
    figures = percentiles(await steady_runs(org, watch, connection_ids, topic_ids, config, seen))
    hops = await hop_medians(world.pool, seen)  # before the runs go with their connections
    for connection_id in connection_ids:
        await org.api.delete(f"/api/connections/{connection_id}")
    return figures, hops


async def run_latency(world: World, config: BenchConfig) -> dict[str, Any]:
    """Latency percentiles, hops and the platform's floor (medians of the repetitions)."""
    org = await new_org(world.pool, world.gateway_url)
    per_repetition: list[dict[str, float]] = []
    hops: list[dict[str, float]] = []
    floors: list[float] = []
    try:
        await set_platform_latency(world.mock, "custom_api", PLATFORM_LATENCY_MS)
        async with watching(world.pool) as watch:
            for repetition in range(config.repetitions):
                figures, hop_figures = await _repetition(world, org, watch, config, repetition)
                per_repetition.append(figures)
                hops.append(hop_figures)
                # The platform's own time for a run's 25 creates, by a bare client in the same run.
                floors.append(median(await platform_batches(world, config, 8)) * 1000)
    finally:
        await set_platform_latency(world.mock, "custom_api", 0)
        await org.api.aclose()
    return {
        **{key: median([figures[key] for figures in per_repetition]) for key in ("p50", "p95", "p99")},
        "run_topics": config.latency_run_topics,
        "runs_per_s": config.latency_runs_per_s,
        "duration_s": config.latency_duration_s,
        "platform_latency_ms": PLATFORM_LATENCY_MS,
        "safety_poll_ms": SAFETY_POLL_S * 1000,
        "platform_floor_ms": round(median(floors), 1),
        "hops": {key: round(median([figures[key] for figures in hops]), 3) for key in hops[0]}
        if hops
        else {},
        "repetitions": per_repetition,
    }
