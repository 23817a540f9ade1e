"""Topics created by a service at start: the configured partitions, and with the replication settings
unset the replicas the cluster allows (the suite's single broker: 1 replica, min.insync.replicas 1)."""

from __future__ import annotations

import secrets
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from shared.messaging.kafka import TOPIC_NAMES, ensure_topics
from shared.messaging.kafka_security import client_options
from shared.settings import Settings


def _config_value(response: Any, name: str) -> str | None:
    for resource in response.resources:
        for entry in resource[4]:
            if entry[0] == name:
                return str(entry[1])
    return None


async def test_topics_get_the_replication_the_cluster_allows(settings: Settings) -> None:
    own = settings.model_copy(
        update={"kafka_topic_prefix": f"rf{secrets.token_hex(3)}.activator", "kafka_partitions": 2}
    )
    assert own.kafka_replication_factor is None
    topics = [own.topic(name) for name in TOPIC_NAMES]
    await ensure_topics(own)
    await ensure_topics(own)  # a second replica starting finds them and changes nothing
    admin = AIOKafkaAdminClient(**client_options(own))
    await admin.start()
    try:
        brokers = len((await admin.describe_cluster())["brokers"])
        described = await admin.describe_topics(topics)
        insync = [
            _config_value(response, "min.insync.replicas")
            for topic in topics
            for response in await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        ]
        await admin.delete_topics(topics)
    finally:
        await admin.close()
    expected_replicas = min(3, brokers)
    assert {str(topic["topic"]): len(topic["partitions"]) for topic in described} == dict.fromkeys(topics, 2)
    assert {len(part["replicas"]) for topic in described for part in topic["partitions"]} == {
        expected_replicas
    }
    assert insync == [str(max(1, min(2, expected_replicas - 1)))] * len(topics)
