"""A producer whose sender died of OutOfOrderSequenceNumber (what aiokafka's idempotent producer does after
some broker restarts, aio-libs/aiokafka#1017) is replaced by the watch: publishing works again, and what
was published after the renewal is read back from the real broker."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import aiokafka
import pytest
from aiokafka.errors import OutOfOrderSequenceNumber

from shared.messages import RunStarted
from shared.messaging.kafka import build_broker, ensure_topics
from shared.messaging.kafka_security import bootstrap_servers
from shared.messaging.producer_watch import producer_failure, producer_of, watch_producer
from shared.messaging.status_publisher import KafkaStatusPublisher
from shared.settings import Settings

pytestmark = pytest.mark.integration


async def _kill_sender(producer: aiokafka.AIOKafkaProducer) -> None:
    """End the producer's sender task the way a broker's OutOfOrderSequenceNumber answer does."""
    sender = producer._sender
    sender._sender_task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await sender._sender_task

    async def fails() -> None:
        raise OutOfOrderSequenceNumber

    sender._sender_task = asyncio.create_task(fails())
    sender._sender_task.add_done_callback(sender._fail_all)
    with contextlib.suppress(OutOfOrderSequenceNumber):
        await sender._sender_task


async def test_a_producer_that_died_of_an_out_of_order_sequence_is_renewed(settings: Settings) -> None:
    await ensure_topics(settings)
    topic = settings.topic("status")
    broker = build_broker(settings, client_id="producer-watch-test")
    await broker.connect()
    stopping = asyncio.Event()
    watch: asyncio.Task[None] | None = None
    key = uuid.uuid4().hex.encode()
    try:
        await broker.publish({"n": 1}, topic, key=key)
        producer = producer_of(broker)
        assert producer is not None
        await _kill_sender(producer)
        assert isinstance(producer_failure(broker), OutOfOrderSequenceNumber)
        with pytest.raises(OutOfOrderSequenceNumber):
            await broker.publish({"n": 2}, topic, key=key)  # dead for good without the watch

        watch = asyncio.create_task(watch_producer(broker, stopping))
        for _ in range(100):  # until the new producer is connected in the dead one's place
            if producer_of(broker) not in (None, producer):
                break
            await asyncio.sleep(0.1)
        assert producer_failure(broker) is None
        await broker.publish({"n": 3}, topic, key=key)
    finally:
        stopping.set()
        if watch is not None:
            await watch
        await broker.stop()

    consumer = aiokafka.AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap_servers(settings), auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        seen: list[bytes] = []
        async with asyncio.timeout(30):
            while b'{"n":3}' not in seen:
                batch = await consumer.getmany(timeout_ms=1000)
                seen += [
                    record.value for records in batch.values() for record in records if record.key == key
                ]
    finally:
        await consumer.stop()
    assert seen[0] == b'{"n":1}'
    assert b'{"n":2}' not in seen


def _started(run_id: uuid.UUID, total: int) -> RunStarted:
    return RunStarted(event_id=uuid.uuid4(), run_id=run_id, org_id=uuid.uuid4(), total=total)


async def test_a_producer_out_of_step_with_the_broker_is_renewed_once_a_publisher_notes_it(
    settings: Settings,
) -> None:
    await ensure_topics(settings)
    topic = settings.topic("status")
    broker = build_broker(settings, client_id="producer-step-test")
    await broker.connect()
    publisher = KafkaStatusPublisher(broker, topic)
    run_id = uuid.uuid4()
    stopping = asyncio.Event()
    watch: asyncio.Task[None] | None = None
    try:
        await publisher.publish([_started(run_id, 1)])
        producer = producer_of(broker)
        assert producer is not None
        assert producer._txn_manager is not None
        # What a broker that lost the producer's last writes sees: the next batch's sequence number skips.
        for partition in list(producer._txn_manager._sequence_numbers):
            producer._txn_manager._sequence_numbers[partition] += 7
        with pytest.raises(OutOfOrderSequenceNumber):
            await publisher.publish([_started(run_id, 2)])  # the broker's own answer
        with pytest.raises(OutOfOrderSequenceNumber):
            await publisher.publish([_started(run_id, 3)])  # and again: the producer stays out of step
        assert isinstance(producer_failure(broker), OutOfOrderSequenceNumber)

        watch = asyncio.create_task(watch_producer(broker, stopping))
        for _ in range(100):
            if producer_of(broker) not in (None, producer):
                break
            await asyncio.sleep(0.1)
        assert producer_failure(broker) is None
        await publisher.publish([_started(run_id, 4)])
    finally:
        stopping.set()
        if watch is not None:
            await watch
        await broker.stop()
