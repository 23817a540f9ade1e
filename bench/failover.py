"""Failover: kill -9 of the push-worker in the middle of a push, restarted at once as an orchestrator
would: the seconds the run's processed count stood still (issue 16 item 7, target ≤ 10 s)."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from bench.config import BenchConfig
from bench.harness import (
    ScenarioFailed,
    add_topics,
    median,
    new_custom_api_connection,
    new_org,
    require_succeeded,
    set_platform_latency,
    start_run,
    wait_processed,
)
from bench.world import World
from tests.e2e.chaos.progress import probing
from tests.support.processes import WORKER_READY

# Where in the run the worker is killed: past its start-up, with most of the run still to go.
KILL_AT_SHARE = 0.25
WORKER = "push-worker"


async def _wait_processed_at_least(world: World, run_id: str, count: int, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    key = uuid.UUID(run_id)
    while time.monotonic() < deadline:
        processed = await world.pool.fetchval("SELECT processed FROM runs WHERE id = $1", key)
        if processed is not None and processed >= count:
            return
        await asyncio.sleep(0.05)
    raise ScenarioFailed(f"run {run_id} did not reach {count} processed items in {timeout:.0f}s")


async def _killed_once(world: World, config: BenchConfig, kill: int) -> tuple[float, float]:
    """One push with the worker killed at KILL_AT_SHARE of it: (stall seconds, restart seconds)."""
    org = await new_org(world.pool, world.gateway_url)
    try:
        await add_topics(world.pool, org, config.failover_topics, f"failover-{uuid.uuid4().hex[:6]}")
        connection_id = await new_custom_api_connection(
            org.api, world.mock_url, max_concurrency=config.push_concurrency, name=f"failover-{kill}"
        )
        async with probing(world.settings.database_url) as probe:
            run_id = await start_run(org.api, connection_id, "push")
            probe.watch(run_id)
            await _wait_processed_at_least(world, run_id, int(config.failover_topics * KILL_AT_SHARE))
            worker = world.services[WORKER]
            probe.fault()
            worker.kill()
            restarting = time.monotonic()
            restart_from = worker.log_size()
            worker.start()
            await worker.wait_for_log(WORKER_READY, timeout=120, after=restart_from)
            restart_s = time.monotonic() - restarting
            await wait_processed(world.pool, run_id)
            await require_succeeded(world.pool, run_id, config.failover_topics)
            await asyncio.sleep(2 * probe.interval_s)  # the probe sees the run final
        stall_s = probe.stall_s(run_id)
        if stall_s is None:
            raise ScenarioFailed(f"run {run_id} was not traced through the kill")
        return stall_s, restart_s
    finally:
        await org.api.aclose()


async def run_failover(world: World, config: BenchConfig) -> dict[str, Any]:
    """Failover figures: median and maximum stall over `failover_kills` kills, one push each."""
    stalls: list[float] = []
    restarts: list[float] = []
    await set_platform_latency(world.mock, "custom_api", config.platform_latency_ms)
    try:
        for kill in range(config.failover_kills):
            stall_s, restart_s = await _killed_once(world, config, kill)
            stalls.append(round(stall_s, 2))
            restarts.append(round(restart_s, 2))
    finally:
        await set_platform_latency(world.mock, "custom_api", 0)
    return {
        "worker_kill_stall_s_median": round(median(stalls), 2),
        "worker_kill_stall_s_max": max(stalls),
        # Issue 17 item 8 names the same figures stall_s_median / stall_s_max.
        "stall_s_median": round(median(stalls), 2),
        "stall_s_max": max(stalls),
        "worker_restart_s_median": round(median(restarts), 2),
        "kills": config.failover_kills,
        "topics": config.failover_topics,
        "kill_at_share": KILL_AT_SHARE,
        "platform_latency_ms": config.platform_latency_ms,
        "concurrency": config.push_concurrency,
        "repetitions": {"stall_s": stalls, "restart_s": restarts},
    }
