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
from tests.e2e.chaos.tally import ChaosTable
from tests.e2e.conftest import System, running_system
from tests.support.infra import create_test_database, drop_test_database, isolated_settings, required_env
from tests.support.kafka import OwnKafka, free_port_pair

pytestmark = pytest.mark.e2e


@dataclass
class KafkaWorld:
    kafka: OwnKafka
    system: System
    database_url: str


@pytest.fixture(scope="module")
async def kafka_world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[KafkaWorld]:
    """Own broker, own database, every service; all stopped and removed afterwards."""
    base_url = required_env("DATABASE_URL")
    root = tmp_path_factory.mktemp("chaos-kafka")
    kafka = OwnKafka(root / "state", free_port_pair())
    database_url = await create_test_database(base_url)
    try:
        await kafka.start()
        settings = isolated_settings(database_url, kafka.bootstrap, "chaos.activator")
        async with running_system(settings, root) as system:
            yield KafkaWorld(kafka, system, database_url)
    finally:
        await kafka.stop(keep_data=False)
        await drop_test_database(base_url, database_url)


async def test_kafka_broker_restarted_mid_run(
    kafka_world: KafkaWorld, chaos_table: ChaosTable, outage_repetition: int
) -> None:
    rng = random.Random(f"kafka-restart/{outage_repetition}")
    down_s = rng.uniform(2, 8)

    async def restart_broker() -> None:
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
