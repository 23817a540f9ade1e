"""One broker of a 3-node KRaft cluster killed (kill -9) under a running push and sync, then brought back.

The test has a cluster of its own (deploy/local/kafka_cluster.sh on free ports and its own state dir:
replication factor 3, min.insync.replicas 2), a database and every service as a process on it. The node
killed leads the partition the push's commands are on; the test prints how long each run in flight
stood still (the failover seconds, also the chaos table's stall-seconds columns) beside the usual tally
of lost, duplicated and wrong items.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from shared.messaging.kafka import TOPIC_NAMES
from shared.settings import Settings
from tests.e2e.chaos.outages import runs_through_an_outage
from tests.e2e.chaos.progress import SAMPLE_INTERVAL_S, ProgressProbe
from tests.e2e.chaos.tally import ChaosTable
from tests.e2e.conftest import System, running_system
from tests.support.kafka import OwnKafkaCluster, own_kafka_cluster_and_database

pytestmark = pytest.mark.e2e

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
    """Own 3-node cluster, own database, every service; all removed after. The services are given no
    replication settings: the topics' factor 3 is what they derive from the cluster."""
    root = tmp_path_factory.mktemp("chaos-broker-kill")
    async with (
        own_kafka_cluster_and_database(root, "chaos.activator", bootstrap_node=BOOTSTRAP_NODE) as (
            cluster,
            settings,
            start_s,
        ),
        running_system(settings, root) as system,
    ):
        yield ClusterWorld(cluster, system, settings, start_s)


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
    figures = KillFigures()

    async def kill_a_broker(probe: ProgressProbe) -> None:
        topic, partition, node, found = await _victim(cluster, settings, before)
        probe.fault()
        killed_at = time.monotonic()
        await cluster.kill(node)
        figures.node = node
        figures.partition = f"{topic}[{partition}]" + ("" if found else ", no partition in use found")
        figures.leader_s = await _wait_new_leader(cluster, topic, partition, node)
        await asyncio.sleep(max(0.0, down_s - (time.monotonic() - killed_at)))
        restarting = time.monotonic()
        await cluster.start()
        figures.down_s = restarting - killed_at
        figures.rejoin_s = time.monotonic() - restarting

    probe = await runs_through_an_outage(
        cluster_world.system,
        settings.database_url,
        chaos_table,
        scenario="Kafka broker killed (3 nodes)",
        rng=rng,
        outage=kill_a_broker,
        sync_records=SYNC_RECORDS,
    )

    lines = [
        f"3-node cluster started in {cluster_world.start_s:.1f}s; killed node {figures.node}"
        f" (leader of {figures.partition}) with kill -9, new leader after {figures.leader_s:.1f}s,"
        f" restarted after {figures.down_s:.1f}s, in sync again {figures.rejoin_s:.1f}s later",
    ]
    resumed: list[float] = []
    for run_id, trace in probe.traces.items():
        stall = probe.stall(run_id)
        if stall is None:
            lines.append(f"  {trace.kind} run {run_id[:8]}: finished before the kill")
            continue
        resumed.append(stall.end)
        lines.append(
            f"  {trace.kind} run {run_id[:8]}: longest stall {stall.seconds:.1f}s (from {stall.start:.1f}s"
            f" to {stall.end:.1f}s after the kill), finished {probe.since_fault(trace.finished):.1f}s after the kill"
        )
    failover_s = max(resumed, default=math.nan)
    lines.append(
        f"  failover: {failover_s:.1f}s from the kill until the runs in flight moved again after their stall"
    )
    with capsys.disabled():
        print("\nbroker kill: " + "\n".join(lines))
    assert resumed, "no run was in flight when the broker was killed"
    assert all(trace.finished is not None for trace in probe.traces.values())
