"""Rate budget across replicas (issue 17 item 6): one connection with `rate_limit_rps` R, two push-worker
replicas, two runs of it started at once; then one run big enough to be split into lanes.

A connection's runs are leased one at a time (shared/runs/leases.py), whichever replica holds them, so
the budget is one process's at any moment; what could break it is the hand-over between runs and
replicas. A run split into lanes (shared/runs/lanes.py) is pushed by both replicas at once, each lane at
R / lanes. The mock records when each create arrived: `achieved_ratio` is the creates per second from the
first to the last ÷ R (target ≥ 0.9), `max_window_ratio` the most creates inside any 1-second window ÷ R
(target ≤ 1, a fraction above it being the one request a hand-over may let through early); `lanes_*` the
same for the one split run.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from bench.config import BenchConfig
from bench.harness import (
    Org,
    ScenarioFailed,
    add_topics,
    create_connection,
    custom_api_connection,
    new_org,
    ratio,
    require_succeeded,
    set_platform_latency,
    start_run,
    wait_processed,
)
from bench.world import World

REPLICA = "push-worker-rate"


def max_in_window(times: list[float], window_s: float = 1.0) -> int:
    """The most timestamps inside any half-open window of `window_s` seconds."""
    ordered = sorted(times)
    most, start = 0, 0
    for end, at in enumerate(ordered):
        while at - ordered[start] >= window_s:
            start += 1
        most = max(most, end - start + 1)
    return most


async def _create_times(world: World, since: float) -> list[float]:
    """Wall-clock times of the mock's creates since `since` (its clock is this machine's)."""
    answer = await world.mock.get("/admin/creates/custom_api", params={"since": since})
    answer.raise_for_status()
    times: list[float] = answer.json()["create_times"]
    return times


async def _creates_of(world: World, org: Org, connection_id: str, groups: list[list[str]]) -> list[float]:
    """Runs of the topic groups started at once, all succeeded; the times of the mock's creates."""
    since = time.time()
    run_ids = await asyncio.gather(
        *(start_run(org.api, connection_id, "push", topicIds=group) for group in groups)
    )
    await asyncio.gather(*(wait_processed(world.pool, run_id) for run_id in run_ids))
    for run_id, group in zip(run_ids, groups, strict=True):
        await require_succeeded(world.pool, run_id, len(group))
    times = await _create_times(world, since)
    if len(times) < sum(len(group) for group in groups):
        raise ScenarioFailed(f"the mock saw {len(times)} creates of {sum(len(g) for g in groups)}")
    return times


def _budget_figures(times: list[float], rps: float, prefix: str = "") -> dict[str, Any]:
    span = max(times) - min(times)
    achieved = (len(times) - 1) / span if span > 0 else float("inf")
    fullest = max_in_window(times)
    return {
        f"{prefix}achieved_rps": round(achieved, 2),
        f"{prefix}achieved_ratio": ratio(achieved, rps),
        f"{prefix}max_window_requests": fullest,
        f"{prefix}max_window_ratio": ratio(fullest, rps),
        f"{prefix}creates": len(times),
    }


async def run_rate_budget(world: World, config: BenchConfig) -> dict[str, Any]:
    """Achieved rate and the fullest 1-second window against the connection's budget."""
    rps = config.rate_budget_rps
    org = await new_org(world.pool, world.gateway_url)
    try:
        body = custom_api_connection(world.mock_url, max_concurrency=8, name=f"rate-{uuid.uuid4().hex[:8]}")
        body["config"]["rate_limit_rps"] = rps
        connection_id = await create_connection(org.api, body)
        size, big = config.rate_budget_topics_per_run, config.rate_budget_lane_topics
        topic_ids = await add_topics(world.pool, org, 2 * size + big, f"rate-{uuid.uuid4().hex[:6]}")
        await set_platform_latency(world.mock, "custom_api", 0)
        await world.start_worker(REPLICA, ["push-worker"])
        two_runs = await _creates_of(
            world, org, connection_id, [topic_ids[:size], topic_ids[size : 2 * size]]
        )
        one_split = await _creates_of(world, org, connection_id, [topic_ids[2 * size :]])
        lanes = await world.pool.fetchval(
            "SELECT lanes FROM runs WHERE connection_id = $1 ORDER BY created_at DESC LIMIT 1",
            uuid.UUID(connection_id),
        )
    finally:
        world.stop_service(REPLICA)
        await org.api.aclose()
    return {
        "rate_limit_rps": rps,
        **_budget_figures(two_runs, rps),
        "runs": 2,
        "replicas": 2,
        **_budget_figures(one_split, rps, "lanes_"),
        "lanes": lanes,
    }
