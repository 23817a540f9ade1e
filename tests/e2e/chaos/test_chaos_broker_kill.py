"""One broker of a 3-node KRaft cluster killed (kill -9) under a running push and sync, then brought back.

The test has a cluster of its own (deploy/local/kafka_cluster.sh on free ports and its own state dir:
replication factor 3, min.insync.replicas 2), a database and every service as a process on it. The node
killed leads the partition the push's commands are on; the test prints how long each run in flight
stood still (the failover seconds) beside the usual tally of lost, duplicated and wrong items.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from shared.db.pool import create_pool
from shared.messaging.kafka import TOPIC_NAMES
from shared.runs.status import TERMINAL_STATUSES
from shared.settings import Settings
from tests.e2e.chaos.outages import runs_through_an_outage
from tests.e2e.chaos.tally import ChaosTable
from tests.e2e.conftest import System, running_system
from tests.support.kafka import OwnKafkaCluster, own_kafka_cluster_and_database

pytestmark = pytest.mark.e2e

SAMPLE_INTERVAL_S = 0.2
# The services bootstrap from this node alone (see own_kafka_cluster_and_database), so it is never killed:
# with it gone, a client starting during the outage could not find the cluster.
BOOTSTRAP_NODE = 3
LEADER_WAIT_S = 60.0
# Three times the other outages' sync, so it is still running when the broker goes (6,000 took 8 s).
SYNC_RECORDS = 18_000


@dataclass
class ClusterWorld:
    cluster: OwnKafkaCluster
    system: System
    settings: Settings
    start_s: float


@pytest.fixture(scope="module")
async def cluster_world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ClusterWorld]:
    """Own 3-node cluster, own database, every service (topics of replication factor 3); all removed after."""
    root = tmp_path_factory.mktemp("chaos-broker-kill")
    async with (
        own_kafka_cluster_and_database(root, "chaos.activator", bootstrap_node=BOOTSTRAP_NODE) as (
            cluster,
            settings,
            start_s,
        ),
        running_system(settings, root, extra_env={"KAFKA_REPLICATION_FACTOR": "3"}) as system,
    ):
        yield ClusterWorld(cluster, system, settings, start_s)


@dataclass
class RunTrace:
    """One run's processed count over time, in seconds since the kill."""

    kind: str
    at_kill: int
    changes: list[float] = field(default_factory=list)
    finished: float | None = None

    def longest_stall(self) -> tuple[float, float]:
        """(from, until): the longest time after the kill in which the count did not move, until the run
        finished. Writes already under way may land just after the kill, so it need not start at 0."""
        moments = [0.0, *self.changes, *([self.finished] if self.finished is not None else [])]
        return max(itertools.pairwise(moments), key=lambda gap: gap[1] - gap[0], default=(0.0, 0.0))


@dataclass
class ProgressProbe:
    """Samples every run's processed count from the database, so the kill's stall can be measured."""

    database_url: str
    traces: dict[str, RunTrace] = field(default_factory=dict)
    killed_at: float | None = None
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        """Sample until `stop()`; runs already final at the kill are not traced."""
        pool = await create_pool(self.database_url, max_size=1)
        last: dict[str, int] = {}
        try:
            while not self._stop.is_set():
                rows = await pool.fetch("SELECT id::text AS id, kind, processed, status FROM runs")
                now = time.monotonic()
                for row in rows:
                    run_id, processed = row["id"], row["processed"]
                    if self.killed_at is None:
                        if row["status"] not in TERMINAL_STATUSES:
                            self.traces[run_id] = RunTrace(row["kind"], processed)
                        else:
                            self.traces.pop(run_id, None)
                    elif (trace := self.traces.get(run_id)) is not None and trace.finished is None:
                        if processed != last.get(run_id, trace.at_kill):
                            trace.changes.append(now - self.killed_at)
                        if row["status"] in TERMINAL_STATUSES:
                            trace.finished = now - self.killed_at
                    last[run_id] = processed
                await asyncio.sleep(SAMPLE_INTERVAL_S)
        finally:
            await pool.close()

    def stop(self) -> None:
        """End the sampling loop."""
        self._stop.set()


# Whose commits show the partitions a run is using: its events first, then its commands.
IN_USE = (("status-recorder", "status"), ("push-worker", "push.commands"), ("sync-worker", "sync.commands"))
Commits = dict[tuple[str, str], dict[int, int]]


async def _commits(cluster: OwnKafkaCluster, settings: Settings) -> Commits:
    """Every IN_USE group's committed offsets now."""
    return {
        (group, name): await cluster.committed_offsets(settings.consumer_group(group), settings.topic(name))
        for group, name in IN_USE
    }


async def _victim(
    cluster: OwnKafkaCluster, settings: Settings, before: Commits
) -> tuple[str, int, int, bool]:
    """(topic, partition, its leader, found): the partition whose commits grew most since `before` (the
    run's events, else its commands), if a node other than the bootstrap one leads it; else (found False)
    node 2 and partition 0 of the status topic."""
    now = await _commits(cluster, settings)
    for group, name in IN_USE:
        earlier = before[group, name]
        grown = {part: offset - earlier.get(part, 0) for part, offset in now[group, name].items()}
        topic = settings.topic(name)
        leaders = await cluster.partition_leaders(topic)
        for partition in sorted(grown, key=lambda part: -grown[part]):
            if grown[partition] > 0 and leaders.get(partition, -1) not in (-1, BOOTSTRAP_NODE):
                return topic, partition, leaders[partition], True
    return settings.topic("status"), 0, 2, False


@dataclass
class KillFigures:
    """What the kill did to the cluster, in seconds since the kill (NaN: not reached)."""

    node: int = 0
    partition: str = ""
    leader_s: float = math.nan
    down_s: float = math.nan
    rejoin_s: float = math.nan


async def _wait_new_leader(cluster: OwnKafkaCluster, topic: str, partition: int, old: int) -> float:
    """Seconds until `partition` of `topic` is led by another node than `old` (as the metadata says)."""
    started = time.monotonic()
    while time.monotonic() - started < LEADER_WAIT_S:
        try:
            leader = (await cluster.partition_leaders(topic)).get(partition, -1)
        except Exception:  # metadata from the survivors may fail for a moment
            leader = -1
        if leader not in (-1, old):
            return time.monotonic() - started
        await asyncio.sleep(SAMPLE_INTERVAL_S)
    msg = f"{topic}[{partition}] got no new leader within {LEADER_WAIT_S:g}s of killing node {old}"
    raise AssertionError(msg)


async def test_broker_killed_mid_run(
    cluster_world: ClusterWorld,
    chaos_table: ChaosTable,
    outage_repetition: int,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cluster, settings = cluster_world.cluster, cluster_world.settings
    rng = random.Random(f"broker-kill/{outage_repetition}")
    down_s = rng.uniform(3, 6)
    topics = [settings.topic(name) for name in TOPIC_NAMES]
    assert await cluster.replication_factors(topics) == {topic: {3} for topic in topics}

    before = await _commits(cluster, settings)
    probe = ProgressProbe(settings.database_url)
    sampling = asyncio.create_task(probe.run())
    figures = KillFigures()

    async def kill_a_broker() -> None:
        topic, partition, node, found = await _victim(cluster, settings, before)
        await asyncio.sleep(2 * SAMPLE_INTERVAL_S)  # a sample of every run in flight before the kill
        probe.killed_at = time.monotonic()
        await cluster.kill(node)
        figures.node = node
        figures.partition = f"{topic}[{partition}]" + ("" if found else ", no partition in use found")
        figures.leader_s = await _wait_new_leader(cluster, topic, partition, node)
        await asyncio.sleep(max(0.0, down_s - (time.monotonic() - probe.killed_at)))
        restarting = time.monotonic()
        await cluster.start()
        figures.down_s = restarting - probe.killed_at
        figures.rejoin_s = time.monotonic() - restarting

    try:
        await runs_through_an_outage(
            cluster_world.system,
            settings.database_url,
            chaos_table,
            scenario="Kafka broker killed (3 nodes)",
            rng=rng,
            outage=kill_a_broker,
            sync_records=SYNC_RECORDS,
        )
    finally:
        probe.stop()
        await sampling

    lines = [
        f"3-node cluster started in {cluster_world.start_s:.1f}s; killed node {figures.node}"
        f" (leader of {figures.partition}) with kill -9, new leader after {figures.leader_s:.1f}s,"
        f" restarted after {figures.down_s:.1f}s, in sync again {figures.rejoin_s:.1f}s later",
    ]
    for run_id, trace in probe.traces.items():
        stalled, resumed = trace.longest_stall()
        finished = math.nan if trace.finished is None else trace.finished
        lines.append(
            f"  {trace.kind} run {run_id[:8]} ({trace.at_kill} items done at the kill): longest stall"
            f" {resumed - stalled:.1f}s (from {stalled:.1f}s to {resumed:.1f}s after the kill),"
            f" finished {finished:.1f}s after the kill"
        )
    failover_s = max((trace.longest_stall()[1] for trace in probe.traces.values()), default=math.nan)
    lines.append(
        f"  failover: {failover_s:.1f}s from the kill until the runs in flight moved again after their stall"
    )
    with capsys.disabled():
        print("\nbroker kill: " + "\n".join(lines))
    assert probe.traces, "no run was in flight when the broker was killed"
    assert all(trace.finished is not None for trace in probe.traces.values())
