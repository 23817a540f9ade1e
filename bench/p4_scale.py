"""P4 scale-out: four connections pushing at once, each capped in concurrency, on one push-worker and on two."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment
from aiokafka.partitioner import DefaultPartitioner

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
    wait_processed,
)
from bench.procstats import cpu_seconds, cpu_since
from bench.world import World
from shared.messaging.kafka_security import client_options

REPLICA = "push-worker-2"


def partition_of(connection_id: str, partitions: int) -> int:
    """The partition the push commands of a connection land on (they are keyed by connection id)."""
    every = list(range(partitions))
    return int(DefaultPartitioner()(connection_id.encode(), every, every))


async def group_assignment(world: World) -> dict[str, set[int]]:
    """Partitions of the push-commands topic held by each member of the push-workers' group (once stable).

    A push-worker runs `PUSH_RUNS_IN_PARALLEL` consumers, one member each, and a member drives one run at a time.
    """
    admin = AIOKafkaAdminClient(**client_options(world.settings))
    await admin.start()
    try:
        (response,) = await admin.describe_consumer_groups([world.settings.consumer_group("push-worker")])
    finally:
        await admin.close()
    _error, _group, state, _protocol_type, _protocol, members, *_ = response.groups[0]
    if state != "Stable":
        return {}
    topic = world.settings.topic("push.commands")
    held: dict[str, set[int]] = {}
    for member in members:
        assignment = ConsumerProtocolMemberAssignment.decode(member[4])
        held[member[0]] = {
            p for name, partitions in assignment.assignment if name == topic for p in partitions
        }
    return held


async def wait_for_members(world: World, count: int, timeout: float = 90) -> dict[str, set[int]]:
    """Wait until the group is stable with `count` members that each hold partitions."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        held = await group_assignment(world)
        if len(held) == count and all(held.values()):
            return held
        await asyncio.sleep(0.5)
    raise ScenarioFailed(f"the push-workers' group did not settle on {count} members in {timeout:.0f}s")


async def spread_connections(world: World, org: Org, config: BenchConfig, slots: list[set[int]]) -> list[str]:
    """One connection per slot (a member's partitions), so that no two runs queue behind the same consumer.

    Keys hash where they hash; picking the connections makes the figure measure the workers, not the draw.
    """
    chosen: list[str | None] = [None] * len(slots)
    spare: list[str] = []
    for _ in range(300):
        connection_id = await new_custom_api_connection(
            org.api,
            world.mock_url,
            max_concurrency=config.p4_max_concurrency,
            name=f"p4-{uuid.uuid4().hex[:8]}",
        )
        partition = partition_of(connection_id, world.settings.kafka_partitions)
        free = next(
            (index for index, slot in enumerate(slots) if chosen[index] is None and partition in slot), None
        )
        if free is None:
            spare.append(connection_id)
        else:
            chosen[free] = connection_id
        if len(spare) >= 10 or all(chosen):
            # An org holds at most 20 connections.
            for unused in spare:
                await org.api.delete(f"/api/connections/{unused}")
            spare.clear()
        if all(chosen):
            return [connection_id for connection_id in chosen if connection_id is not None]
    raise ScenarioFailed("no connections hashing onto the wanted partitions after 300 tries")


async def pushed_at_once(
    world: World, org: Org, topic_ids: list[str], config: BenchConfig, slots: list[set[int]]
) -> float:
    """Segments/s of the connections' runs started together, to the last item of the last run persisted."""
    connection_ids = await spread_connections(world, org, config, slots)
    size = config.p4_topics_per_connection
    slices = [topic_ids[index * size : (index + 1) * size] for index in range(len(connection_ids))]
    started = time.perf_counter()
    run_ids = await asyncio.gather(
        *(
            start_run(org.api, cid, "push", topicIds=ids)
            for cid, ids in zip(connection_ids, slices, strict=True)
        )
    )
    finished = await asyncio.gather(*(wait_processed(world.pool, run_id) for run_id in run_ids))
    elapsed = max(finished) - started
    for run_id in run_ids:
        await require_succeeded(world.pool, run_id, size)
    for connection_id in connection_ids:
        await org.api.delete(f"/api/connections/{connection_id}")
    return rate(size * len(connection_ids), elapsed)


async def run_p4(world: World, config: BenchConfig) -> dict[str, Any]:
    """P4 figures."""
    org = await new_org(world.pool, world.gateway_url)
    total = config.p4_connections * config.p4_topics_per_connection
    one: list[float] = []
    two: list[float] = []
    cpu: dict[str, dict[str, float]] = {}
    try:
        topic_ids = await add_topics(world.pool, org, total, f"p4-{uuid.uuid4().hex[:6]}")
        await set_platform_latency(world.mock, "custom_api", config.platform_latency_ms)
        per_worker = world.settings.push_runs_in_parallel
        first = await wait_for_members(world, per_worker)
        # One worker: every run on a consumer of its own.
        single = list(first.values())[: config.p4_connections]
        cpu_before = cpu_seconds(world.pids())
        one = [await pushed_at_once(world, org, topic_ids, config, single) for _ in range(config.repetitions)]
        cpu["one_worker"] = cpu_since(cpu_before, world.pids())
        await world.start_worker(REPLICA, ["push-worker"])
        both = await wait_for_members(world, 2 * per_worker)
        # Two workers: half the runs on consumers of each (members keep their ids across the rebalance).
        half = config.p4_connections // 2
        pair = [held for member, held in both.items() if member in first][:half] + [
            held for member, held in both.items() if member not in first
        ][: config.p4_connections - half]
        cpu_before = cpu_seconds(world.pids())
        two = [await pushed_at_once(world, org, topic_ids, config, pair) for _ in range(config.repetitions)]
        cpu["two_workers"] = cpu_since(cpu_before, world.pids())
    finally:
        world.stop_service(REPLICA)
        await set_platform_latency(world.mock, "custom_api", 0)
        await org.api.aclose()
    # The most the platform allows: every connection's calls at its cap, each taking the injected latency.
    cap = config.p4_connections * config.p4_max_concurrency * 1000 / config.platform_latency_ms
    return {
        "one_worker": median(one),
        "two_workers": median(two),
        "ratio": ratio(median(two), median(one)),
        "platform_cap_segments_per_s": cap,
        "one_worker_share_of_cap": ratio(median(one), cap),
        "connections": config.p4_connections,
        "topics_per_connection": config.p4_topics_per_connection,
        "max_concurrency": config.p4_max_concurrency,
        "cpu_seconds_by_service": cpu,
        "platform_latency_ms": config.platform_latency_ms,
        "repetitions": {"one_worker": one, "two_workers": two},
    }
