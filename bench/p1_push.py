"""P1 push throughput: gateway → Kafka → push-worker → platform → status → recorder, against its ceiling and
the seed's client-driven step loop, all on the mock Custom API with injected latency."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx

from bench.config import BenchConfig
from bench.harness import (
    Org,
    ScenarioFailed,
    add_topics,
    median,
    new_custom_api_connection,
    new_org,
    rate,
    ratio,
    require_succeeded,
    set_platform_latency,
    start_run,
    step_through,
    timed_push,
)
from bench.procstats import CpuMeter, cpu_seconds, cpu_since, peak_rss_mb, reset_peaks
from bench.world import World


async def pushed_by_activator(world: World, org: Org, config: BenchConfig, repetition: int) -> float:
    """Seconds from the run request to its last item persisted, on a fresh connection (every item a create)."""
    connection_id = await new_custom_api_connection(
        org.api, world.mock_url, max_concurrency=config.push_concurrency, name=f"p1-{repetition}"
    )
    return await timed_push(world.pool, org.api, connection_id, config.p1_topics)


async def pushed_by_bare_client(world: World, config: BenchConfig, repetition: int) -> float:
    """Seconds for one httpx client to make the same creates at the same concurrency: the ceiling."""
    indexes = iter(range(config.p1_topics))
    limits = httpx.Limits(
        max_connections=config.push_concurrency, max_keepalive_connections=config.push_concurrency
    )
    async with httpx.AsyncClient(base_url=f"{world.mock_url}/custom", limits=limits, timeout=30) as client:

        async def lane() -> None:
            for index in indexes:
                response = await client.post(
                    "/segments",
                    json={
                        "name": f"Bench ceiling {index}",
                        "description": "",
                        "price": 1.5,
                        "currency": "USD",
                        "data_source_location": "",
                    },
                    headers={
                        "X-API-Key": "bench-custom-key",
                        "Idempotency-Key": f"ceiling-{repetition}-{index}",
                    },
                )
                if response.status_code != 201:
                    raise ScenarioFailed(f"ceiling create: {response.status_code} {response.text[:200]}")

        started = time.perf_counter()
        await asyncio.gather(*(lane() for _ in range(config.push_concurrency)))
        return time.perf_counter() - started


async def pushed_by_step_loop(
    world: World, org: Org, topic_ids: list[str], config: BenchConfig, repetition: int
) -> float:
    """Seconds for the seed's client-driven loop: a step run and one POST .../push per batch, in series."""
    connection_id = await new_custom_api_connection(
        org.api, world.mock_url, max_concurrency=config.push_concurrency, name=f"p1-step-{repetition}"
    )
    started = time.perf_counter()
    run_id = await start_run(org.api, connection_id, "push", mode="step", topicIds=topic_ids)
    await step_through(org.api, connection_id, run_id)
    elapsed = time.perf_counter() - started
    await require_succeeded(world.pool, run_id, len(topic_ids))
    return elapsed


async def run_p1(world: World, config: BenchConfig) -> tuple[dict[str, Any], dict[str, float]]:
    """P1 figures, and the services' peak RSS during it (for P5)."""
    org = await new_org(world.pool, world.gateway_url)
    try:
        topic_ids = await add_topics(world.pool, org, config.p1_topics, f"p1-{uuid.uuid4().hex[:6]}")
        step_topics = topic_ids[: config.p1_step_topics]
        await set_platform_latency(world.mock, "custom_api", config.platform_latency_ms)
        reset_peaks(world.pids())
        cpu_before = cpu_seconds(world.pids())
        activator: list[float] = []
        ceiling: list[float] = []
        step: list[float] = []
        cost = CpuMeter()  # the services' CPU during Activator's own runs: what a pushed segment costs
        for repetition in range(config.repetitions):
            # Interleaved, so that drift in the machine's load hits all three alike.
            before = cpu_seconds(world.pids())
            activator.append(
                rate(config.p1_topics, await pushed_by_activator(world, org, config, repetition))
            )
            cost.add(before, world.pids(), config.p1_topics)
            ceiling.append(rate(config.p1_topics, await pushed_by_bare_client(world, config, repetition)))
            step.append(
                rate(len(step_topics), await pushed_by_step_loop(world, org, step_topics, config, repetition))
            )
        peaks = peak_rss_mb(world.pids())
        cpu = cpu_since(cpu_before, world.pids())
    finally:
        await set_platform_latency(world.mock, "custom_api", 0)
        await org.api.aclose()
    segments = median(activator)
    return {
        "segments_per_s": segments,
        "ceiling_segments_per_s": median(ceiling),
        "step_loop_segments_per_s": median(step),
        "ratio_vs_ceiling": ratio(segments, median(ceiling)),
        "ratio_vs_step_loop": ratio(segments, median(step)),
        "topics": config.p1_topics,
        "cpu_seconds_by_service": cpu,
        "cpu_ms_per_segment": cost.ms_per_item(),
        "step_loop_topics": len(step_topics),
        "platform_latency_ms": config.platform_latency_ms,
        "concurrency": config.push_concurrency,
        "repetitions": {"activator": activator, "ceiling": ceiling, "step_loop": step},
    }, peaks
