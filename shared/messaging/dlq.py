"""Reading and replaying the dead-letter topic (`activator dlq list / replay`)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.messaging.kafka_security import client_options
from shared.settings import Settings

REPLAYED_HEADER = "x-activator-replayed-from"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    offset: int
    partition: int
    source_topic: str
    error_type: str
    error: str
    attempts: int
    failed_at: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]


def _parse(record: Any) -> DeadLetter:
    body: dict[str, Any] = json.loads(record.value)
    return DeadLetter(
        offset=record.offset,
        partition=record.partition,
        source_topic=body["source_topic"],
        error_type=body["error_type"],
        error=body["error"],
        attempts=body["attempts"],
        failed_at=body["failed_at"],
        key=record.key,
        value=base64.b64decode(body["original_value_b64"]),
        headers=[
            (name, base64.b64decode(value)) for name, value in body.get("original_headers_b64", {}).items()
        ],
    )


async def _partitions(settings: Settings, topic: str) -> list[int]:
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return sorted(partition["partition"] for entry in described for partition in entry.get("partitions", []))


async def _behind(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    for partition, end in ends.items():
        if await consumer.position(partition) < end:
            return True
    return False


async def read_dead_letters(settings: Settings, limit: int = 1000) -> list[DeadLetter]:
    """Every dead letter currently on the topic (oldest first per partition), without committing anything."""
    consumer = AIOKafkaConsumer(**client_options(settings), enable_auto_commit=False)
    await consumer.start()
    try:
        topic = settings.topic("dlq")
        partitions = [TopicPartition(topic, p) for p in await _partitions(settings, topic)]
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        letters: list[DeadLetter] = []
        while len(letters) < limit and await _behind(consumer, ends):
            batches = await consumer.getmany(timeout_ms=1000, max_records=500)
            for records in batches.values():
                letters.extend(_parse(record) for record in records)
        return letters[:limit]
    finally:
        await consumer.stop()


async def replay(settings: Settings, letters: list[DeadLetter]) -> int:
    """Publish the original messages again to their source topics; consumers are idempotent."""
    producer = AIOKafkaProducer(**client_options(settings), enable_idempotence=True, acks="all")
    await producer.start()
    try:
        for letter in letters:
            headers = [
                *letter.headers,
                (REPLAYED_HEADER, f"{letter.partition}:{letter.offset}".encode()),
            ]
            await producer.send_and_wait(letter.source_topic, letter.value, key=letter.key, headers=headers)
    finally:
        await producer.stop()
    return len(letters)
