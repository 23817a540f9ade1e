"""The Kafka broker stopped and restarted under a running push and sync.

The test has a broker of its own (deploy/local/kafka.sh on free ports, its own state dir), a database
and every service as a process on it, so stopping Kafka disturbs no other test.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from tests.e2e.chaos.outages import runs_through_an_outage
from tests.e2e.chaos.progress import ProgressProbe
from tests.e2e.chaos.tally import ChaosTable
from tests.e2e.conftest import System, running_system
from tests.support.kafka import OwnKafka, own_kafka_and_database

pytestmark = pytest.mark.e2e


@dataclass
class KafkaWorld:
    kafka: OwnKafka
    system: System
    database_url: str


@pytest.fixture(scope="module")
async def kafka_world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[KafkaWorld]:
    """Own broker, own database, every service; all stopped and removed afterwards."""
    root = tmp_path_factory.mktemp("chaos-kafka")
    async with (
        own_kafka_and_database(root, "chaos.activator") as (kafka, settings),
        running_system(settings, root) as system,
    ):
        yield KafkaWorld(kafka, system, settings.database_url)


async def test_kafka_broker_restarted_mid_run(
    kafka_world: KafkaWorld, chaos_table: ChaosTable, outage_repetition: int
) -> None:
    rng = random.Random(f"kafka-restart/{outage_repetition}")
    down_s = rng.uniform(2, 8)

    async def restart_broker(probe: ProgressProbe) -> None:
        probe.fault()
        await kafka_world.kafka.stop()  # topics and committed offsets survive
        await asyncio.sleep(down_s)
        await kafka_world.kafka.start()

    await runs_through_an_outage(
        kafka_world.system,
        kafka_world.database_url,
        chaos_table,
        scenario="Kafka broker restarted",
        rng=rng,
        outage=restart_broker,
    )
