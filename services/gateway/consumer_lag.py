"""Consumer-group lag of Activator's workers, exported by the gateway (KEDA reads Kafka itself)."""

from __future__ import annotations

import asyncio

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import Gauge

from shared.messaging.kafka_security import client_options
from shared.settings import Settings

log = structlog.get_logger(__name__)

CONSUMER_LAG = Gauge(
    "activator_consumer_lag", "Messages not yet committed by a consumer group", ["group", "topic"]
)
WORKER_TOPICS = {
    "push-worker": "push.commands",
    "sync-worker": "sync.commands",
    "status-recorder": "status",
    "intake": "requests",
}


async def measure_lag(settings: Settings) -> dict[str, int]:
    """Lag per group: end offsets minus committed offsets, summed over the topic's partitions."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    consumer = AIOKafkaConsumer(**client_options(settings), enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        lags: dict[str, int] = {}
        for role, name in WORKER_TOPICS.items():
            group, topic = settings.consumer_group(role), settings.topic(name)
            committed = await admin.list_consumer_group_offsets(group)
            described = await admin.describe_topics([topic])
            partitions = [
                TopicPartition(topic, p["partition"])
                for entry in described
                for p in entry.get("partitions", [])
            ]
            ends = await consumer.end_offsets(partitions) if partitions else {}
            lag = 0
            for partition, end in ends.items():
                done = committed.get(partition)
                lag += end - (done.offset if done is not None and done.offset >= 0 else 0)
            lags[group] = lag
            CONSUMER_LAG.labels(group, topic).set(lag)
        return lags
    finally:
        await consumer.stop()
        await admin.close()


async def export_lag_forever(settings: Settings, interval_s: float = 15.0) -> None:
    """Refresh the lag gauges until cancelled; a Kafka outage only skips a round."""
    while True:
        try:
            await measure_lag(settings)
        except Exception as exc:
            log.warning("consumer_lag_failed", error_type=type(exc).__name__)
        await asyncio.sleep(interval_s)
