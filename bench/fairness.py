"""Fairness: how long a small push takes beside a long push whose connection's commands share its
Kafka partition, against the same small push on an idle system (issue 21's `same_partition_ratio`)."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from aiokafka.partitioner import murmur2

from bench.config import BenchConfig
from bench.harness import (
    Org,
    ScenarioFailed,
    add_topics,
    median,
    new_custom_api_connection,
    new_org,
    ratio,
    set_platform_latency,
    start_run,
    wait_processed,
)
from bench.world import World

SMALL_RUN = 50


def _partition(connection_id: str, partitions: int) -> int:
    return int(murmur2(connection_id.encode()) & 0x7FFFFFFF) % partitions


async def _connection_on(org: Org, world: World, config: BenchConfig, partition: int | None) -> str:
    """A new connection of the org whose commands land on `partition` (any one when None)."""
    partitions = world.settings_for("bench").kafka_partitions
    for _ in range(50 * partitions):
        connection_id = await new_custom_api_connection(
            org.api,
            world.mock_url,
            max_concurrency=config.push_concurrency,
            name=f"fair-{uuid.uuid4().hex[:8]}",
        )
        if partition is None or _partition(connection_id, partitions) == partition:
            return connection_id
        await org.api.delete(f"/api/connections/{connection_id}")
    raise ScenarioFailed(f"no connection landed on partition {partition}")


async def _small_run_s(world: World, org: Org, connection_id: str) -> float:
    run_id = await start_run(org.api, connection_id, "push")
    started = time.perf_counter()
    return await wait_processed(world.pool, run_id, timeout=600) - started


async def _until_final(org: Org, run_id: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (await org.api.get(f"/api/runs/{run_id}")).json()["done"]:
            return
        await asyncio.sleep(0.2)
    raise ScenarioFailed(f"run {run_id} did not end in {timeout:.0f}s")


async def run_fairness(world: World, config: BenchConfig) -> dict[str, Any]:
    """Small-run seconds idle and beside a long run on its partition, and their ratio (target <= 2x)."""
    long_org = await new_org(world.pool, world.gateway_url)
    small_org = await new_org(world.pool, world.gateway_url)
    idle: list[float] = []
    beside: list[float] = []
    partitions = world.settings_for("bench").kafka_partitions
    try:
        await set_platform_latency(world.mock, "custom_api", config.platform_latency_ms)
        await add_topics(world.pool, small_org, SMALL_RUN, f"fair-small-{uuid.uuid4().hex[:6]}")
        await add_topics(
            world.pool, long_org, config.fairness_long_topics, f"fair-long-{uuid.uuid4().hex[:6]}"
        )
        for _ in range(config.repetitions):
            idle.append(
                await _small_run_s(world, small_org, await _connection_on(small_org, world, config, None))
            )
            long_connection = await _connection_on(long_org, world, config, None)
            partition = _partition(long_connection, partitions)
            neighbour = await _connection_on(small_org, world, config, partition)
            long_run = await start_run(long_org.api, long_connection, "push", dryRun=False)
            await asyncio.sleep(1.0)  # the long run is under way
            beside.append(await _small_run_s(world, small_org, neighbour))
            long_status = (await long_org.api.get(f"/api/runs/{long_run}")).json()
            if long_status["status"] != "running":
                raise ScenarioFailed(
                    f"the long run was not running beside the small one: {long_status['status']}"
                )
            await long_org.api.post(f"/api/connections/{long_connection}/push/run/{long_run}/cancel")
            await _until_final(long_org, long_run)
    finally:
        await set_platform_latency(world.mock, "custom_api", 0)
        await long_org.api.aclose()
        await small_org.api.aclose()
    return {
        "small_run_idle_s": round(median(idle), 3),
        "small_run_beside_long_s": round(median(beside), 3),
        "same_partition_ratio": round(ratio(median(beside), median(idle)), 2),
        "small_run_topics": SMALL_RUN,
        "long_run_topics": config.fairness_long_topics,
        "platform_latency_ms": config.platform_latency_ms,
        "target_ratio": 2.0,
    }
