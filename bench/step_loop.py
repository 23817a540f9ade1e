"""The guide's loop (issue 17 item 2): a step run driven by one `POST .../push` per batch, in series.

Its overhead per batch is what a call takes beyond the platform's own time for the batch, measured in
the same run by a bare httpx client making the same 25 creates at the same concurrency; beside it, the
same topics pushed by an auto run, for the ratio of the two modes.
"""

from __future__ import annotations

import asyncio
import statistics
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
from bench.world import World

BATCH = 25


async def step_batches(world: World, org: Org, topic_ids: list[str], config: BenchConfig) -> list[float]:
    """Seconds of each `POST .../push` of a step run over the topics, on a fresh connection."""
    connection_id = await new_custom_api_connection(
        org.api, world.mock_url, max_concurrency=config.push_concurrency, name=f"step-{uuid.uuid4().hex[:8]}"
    )
    run_id = await start_run(org.api, connection_id, "push", mode="step", topicIds=topic_ids)
    calls = await step_through(org.api, connection_id, run_id)
    await require_succeeded(world.pool, run_id, len(topic_ids))
    return calls


async def auto_run(world: World, org: Org, topic_ids: list[str], config: BenchConfig) -> float:
    """Seconds of an auto run over the same topics, from its request to its last item persisted."""
    connection_id = await new_custom_api_connection(
        org.api, world.mock_url, max_concurrency=config.push_concurrency, name=f"auto-{uuid.uuid4().hex[:8]}"
    )
    return await timed_push(world.pool, org.api, connection_id, len(topic_ids), topicIds=topic_ids)


async def platform_batches(world: World, config: BenchConfig, batches: int) -> list[float]:
    """Seconds a bare client takes for each batch of 25 creates at the connection's concurrency."""
    limits = httpx.Limits(
        max_connections=config.push_concurrency, max_keepalive_connections=config.push_concurrency
    )
    tag = uuid.uuid4().hex[:8]
    async with httpx.AsyncClient(base_url=f"{world.mock_url}/custom", limits=limits, timeout=30) as client:
        gate = asyncio.Semaphore(config.push_concurrency)

        async def create(index: int) -> None:
            async with gate:
                response = await client.post(
                    "/segments",
                    json={
                        "name": f"Bench step {tag} {index}",
                        "description": "",
                        "price": 1.5,
                        "currency": "USD",
                        "data_source_location": "",
                    },
                    headers={"X-API-Key": "bench-custom-key", "Idempotency-Key": f"step-{tag}-{index}"},
                )
            if response.status_code != 201:
                raise ScenarioFailed(f"bare create: {response.status_code} {response.text[:200]}")

        durations: list[float] = []
        for batch in range(batches):
            started = time.perf_counter()
            await asyncio.gather(*(create(batch * BATCH + index) for index in range(BATCH)))
            durations.append(time.perf_counter() - started)
        return durations


async def run_step_loop(world: World, config: BenchConfig) -> dict[str, Any]:
    """Step-loop figures: per-batch call time, the platform's share, the overhead, the auto-mode ratio."""
    org = await new_org(world.pool, world.gateway_url)
    topics = config.p1_step_topics
    batches = -(-topics // BATCH)
    step_rates: list[float] = []
    auto_rates: list[float] = []
    per_batch: list[float] = []
    platform: list[float] = []
    try:
        await set_platform_latency(world.mock, "custom_api", config.platform_latency_ms)
        for repetition in range(config.repetitions):
            # Interleaved, so that drift in the machine's load hits all three alike.
            prefix = f"step{repetition}-{uuid.uuid4().hex[:6]}"
            topic_ids = await add_topics(world.pool, org, topics, prefix)
            calls = await step_batches(world, org, topic_ids, config)
            step_rates.append(rate(topics, sum(calls)))
            per_batch.append(statistics.median(calls) * 1000)
            platform.append(statistics.median(await platform_batches(world, config, batches)) * 1000)
            auto_rates.append(rate(topics, await auto_run(world, org, topic_ids, config)))
    finally:
        await set_platform_latency(world.mock, "custom_api", 0)
        await org.api.aclose()
    batch_ms, platform_ms = median(per_batch), median(platform)
    return {
        "segments_per_s": median(step_rates),
        "auto_segments_per_s": median(auto_rates),
        "ratio_auto_vs_step": ratio(median(auto_rates), median(step_rates)),
        "batch_ms": round(batch_ms, 1),
        "platform_batch_ms": round(platform_ms, 1),
        "overhead_ms": round(batch_ms - platform_ms, 1),
        "topics": topics,
        "platform_latency_ms": config.platform_latency_ms,
        "concurrency": config.push_concurrency,
        "repetitions": {
            "step": step_rates,
            "auto": auto_rates,
            "batch_ms": per_batch,
            "platform_ms": platform,
        },
    }
