"""Publishing run requests to activator.requests and reading what comes back on activator.status."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.messages import API_KEY_HEADER
from shared.messaging.kafka_security import client_options
from shared.settings import Settings

StatusBody = dict[str, Any]


async def publish_request(
    settings: Settings, body: dict[str, Any] | bytes, *, api_key: str | None, key: str | None
) -> None:
    """Publish one request as an upstream service would: key = org id, API key in a header."""
    producer = AIOKafkaProducer(**client_options(settings), enable_idempotence=True, acks="all")
    await producer.start()
    try:
        value = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = [(API_KEY_HEADER, api_key.encode())] if api_key is not None else []
        await producer.send_and_wait(
            settings.topic("requests"), value, key=key.encode() if key else None, headers=headers
        )
    finally:
        await producer.stop()


class StatusTail:
    """The events published to activator.status since the tail started."""

    def __init__(self, consumer: AIOKafkaConsumer) -> None:
        self._consumer = consumer
        self.events: list[StatusBody] = []

    async def wait_for(
        self, predicate: Callable[[StatusBody], bool], *, count: int = 1, timeout: float = 120
    ) -> list[StatusBody]:
        """Read on until `count` events match; returns the matching events."""
        deadline = time.monotonic() + timeout
        while True:
            matching = [event for event in self.events if predicate(event)]
            if len(matching) >= count:
                return matching
            if time.monotonic() > deadline:
                msg = f"{len(matching)} of {count} status events seen in {timeout}s"
                raise TimeoutError(msg)
            batches = await self._consumer.getmany(timeout_ms=500)
            for records in batches.values():
                self.events.extend(json.loads(record.value) for record in records)


@contextlib.asynccontextmanager
async def status_tail(settings: Settings) -> AsyncIterator[StatusTail]:
    """Tail activator.status from its current end (so only events of what the test does next)."""
    consumer = AIOKafkaConsumer(**client_options(settings), enable_auto_commit=False)
    await consumer.start()
    try:
        topic = settings.topic("status")
        partitions = [TopicPartition(topic, p) for p in await _partitions(settings, topic)]
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        for partition in partitions:  # resolve the end offsets now, before the test publishes
            await consumer.position(partition)
        yield StatusTail(consumer)
    finally:
        await consumer.stop()


async def _partitions(settings: Settings, topic: str) -> list[int]:
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return sorted(partition["partition"] for entry in described for partition in entry.get("partitions", []))
