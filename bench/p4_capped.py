"""P4 capped: scale-out where a push-worker's CPU is the bound (issue 17 item 5, issue 21's single run).

On 2 shared cores the mock, Kafka and Postgres share the CPU with the workers, so an uncapped second
replica shows nothing. Here every push-worker replica is held to `p4c_cap_cores` of a CPU (bench/cpu_cap.py)
and works `p4c_runs_per_replica` runs at once (PUSH_RUNS_IN_PARALLEL sized to that CPU: with the default 4,
the first replica to see the commands took half of the 8 runs and 4 replicas measured 2.19x one); the
platform answers at once, with no concurrency cap that binds: `p4c_connections` connections push
at once with 1, 2 and 4 replicas (`ratio_2`, `ratio_4`, each replica's share of the items from its own
/metrics), then one connection's single run with 1 and 2 replicas (`single_run_ratio_2`).
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bench.config import BenchConfig
from bench.cpu_cap import CpuCaps, CpuCapUnavailable
from bench.harness import (
    Org,
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
from bench.world import World
from tests.support.processes import free_port

_UNCAPPED_CONCURRENCY = 16  # per connection: far above what a capped worker keeps in flight
_ITEMS = "activator_items_pushed_total"


class _Replicas:
    """Capped push-worker replicas, each with a metrics port of its own."""

    def __init__(self, world: World, caps: CpuCaps, cores: float, runs: int) -> None:
        self._world = world
        self._caps = caps
        self._cores = cores
        self._runs = runs  # PUSH_RUNS_IN_PARALLEL: a replica's runs sized to its CPU
        self.ports: dict[str, int] = {}

    async def grow_to(self, count: int) -> None:
        while len(self.ports) < count:
            name = f"p4c-push-worker-{len(self.ports) + 1}"
            port = free_port()
            service = await self._world.start_worker(
                name,
                ["push-worker"],
                {**self._world.env, "METRICS_PORT": str(port), "PUSH_RUNS_IN_PARALLEL": str(self._runs)},
            )
            assert service.process is not None
            self._caps.cap(name, service.process.pid, self._cores)
            self.ports[name] = port

    async def pushed(self) -> dict[str, float]:
        """Items each replica has pushed so far (every outcome)."""
        counts: dict[str, float] = {}
        async with httpx.AsyncClient(timeout=10) as client:
            for name, port in self.ports.items():
                text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
                counts[name] = sum(
                    sample.value
                    for family in text_string_to_metric_families(text)
                    for sample in family.samples
                    if sample.name == _ITEMS
                )
        return counts

    def stop(self) -> None:
        for name in self.ports:
            self._world.stop_service(name)
        self.ports.clear()


async def _pushed_at_once(
    world: World, org: Org, topic_ids: list[str], connections: int, replicas: _Replicas
) -> tuple[float, dict[str, float]]:
    """Segments/s of `connections` runs started together (the topics split between them), and each
    replica's share of the items."""
    size = len(topic_ids) // connections
    connection_ids = [
        await new_custom_api_connection(
            org.api, world.mock_url, max_concurrency=_UNCAPPED_CONCURRENCY, name=f"p4c-{uuid.uuid4().hex[:8]}"
        )
        for _ in range(connections)
    ]
    before = await replicas.pushed()
    started = time.perf_counter()
    run_ids = await asyncio.gather(
        *(
            start_run(org.api, cid, "push", topicIds=topic_ids[index * size : (index + 1) * size])
            for index, cid in enumerate(connection_ids)
        )
    )
    finished = await asyncio.gather(*(wait_processed(world.pool, run_id) for run_id in run_ids))
    elapsed = max(finished) - started
    for run_id in run_ids:
        await require_succeeded(world.pool, run_id, size)
    after = await replicas.pushed()
    for connection_id in connection_ids:
        await org.api.delete(f"/api/connections/{connection_id}")
    done = sum(after.values()) - sum(before.values())
    shares = {name: round((after[name] - before.get(name, 0.0)) / done, 3) for name in after} if done else {}
    return rate(size * connections, elapsed), shares


async def run_p4_capped(world: World, config: BenchConfig) -> dict[str, Any]:
    """Capped scale-out figures, or the reason they cannot be measured here."""
    try:
        caps = CpuCaps.open(f"activator-bench-{secrets.token_hex(3)}")
    except CpuCapUnavailable as exc:
        return {"unavailable": str(exc)}
    org = await new_org(world.pool, world.gateway_url)
    replicas = _Replicas(world, caps, config.p4c_cap_cores, config.p4c_runs_per_replica)
    many: dict[int, list[float]] = {1: [], 2: [], 4: []}
    shares: dict[int, list[dict[str, float]]] = {1: [], 2: [], 4: []}
    single: dict[int, list[float]] = {1: [], 2: []}
    total = config.p4c_connections * config.p4c_topics_per_connection
    # The world's own push-worker is uncapped and would take runs: it waits out the scenario.
    world.stop_service("push-worker")
    try:
        topic_ids = await add_topics(world.pool, org, total, f"p4c-{uuid.uuid4().hex[:6]}")
        await set_platform_latency(world.mock, "custom_api", 0)
        for count in (1, 2, 4):
            await replicas.grow_to(count)
            for _ in range(config.repetitions):
                if count in single:
                    single[count].append((await _pushed_at_once(world, org, topic_ids, 1, replicas))[0])
                figure, spread = await _pushed_at_once(
                    world, org, topic_ids, config.p4c_connections, replicas
                )
                many[count].append(figure)
                shares[count].append(spread)
    finally:
        replicas.stop()
        caps.close()
        await world.start_worker("push-worker", ["push-worker"])
        await org.api.aclose()
    one = median(many[1])
    return {
        "one_replica": one,
        "two_replicas": median(many[2]),
        "four_replicas": median(many[4]),
        "ratio_2": ratio(median(many[2]), one),
        "ratio_4": ratio(median(many[4]), one),
        "replica_shares": {str(count): shares[count] for count in (2, 4)},
        "single_run_one_replica": median(single[1]),
        "single_run_two_replicas": median(single[2]),
        "single_run_ratio_2": ratio(median(single[2]), median(single[1])),
        "cap_cores_per_replica": config.p4c_cap_cores,
        "runs_in_parallel_per_replica": config.p4c_runs_per_replica,
        "connections": config.p4c_connections,
        "topics_per_connection": config.p4c_topics_per_connection,
        "repetitions": {
            "many": {str(k): v for k, v in many.items()},
            "single": {str(k): v for k, v in single.items()},
        },
    }
