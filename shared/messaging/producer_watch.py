"""Keeps a service's Kafka producer alive through the failure aiokafka's idempotent producer does not
recover from.

When a broker that restarted mid-write answers OutOfOrderSequenceNumber (aio-libs/aiokafka#1017; the same
fatal state in librdkafka, confluentinc/librdkafka#3584), aiokafka fails that batch and keeps the
partition's sequence number past it, so every later send to the partition fails the same way until the
process restarts (and when the error reaches the sender routine itself, its task ends for good). A worker
would stay up, ready, and unable to publish a status event again. The publishers note such a failure
(`noted`, `note`); the watch, seeing one noted or the sender task ended, starts a new producer in the old
one's place, with a new producer id (sequence numbers from 0), as the Java client's epoch bump (KIP-360)
would. The sends that failed are the callers'
to retry: a push slice or a sync page is replayed from its cursor, the relay's outbox row stays
undispatched, and event ids make the replay harmless.

It reaches into FastStream's broker config (0.6: `config.broker_config.producer`) for the driver; a
FastStream without those attributes leaves the watch idle with one warning instead of failing the service.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import aiokafka
import structlog
from aiokafka.errors import OutOfOrderSequenceNumber
from faststream._internal.parser import DefaultCodec
from faststream.kafka import KafkaBroker

log = structlog.get_logger(__name__)

WATCH_INTERVAL_S = 0.5


def producer_of(broker: KafkaBroker) -> aiokafka.AIOKafkaProducer | None:
    """The broker's aiokafka producer, or None before it connected (or with an unknown FastStream)."""
    try:
        producer: aiokafka.AIOKafkaProducer = broker.config.broker_config.producer._producer.producer  # type: ignore[attr-defined]
    except Exception:  # not connected yet (IncorrectState), or another FastStream layout
        return None
    return producer


_OUT_OF_STEP: dict[int, BaseException] = {}  # id(broker) -> the failure a publisher noted


def note(broker: KafkaBroker, error: BaseException | None) -> None:
    """A send of `broker` failed with `error`: one that leaves the producer out of step is noted."""
    if isinstance(error, OutOfOrderSequenceNumber):
        _OUT_OF_STEP[id(broker)] = error


def noted(broker: KafkaBroker, sent: asyncio.Future[Any]) -> asyncio.Future[Any]:
    """`sent` (a send's acknowledgement), its failure noted when it comes; the caller still awaits it."""

    def check(done: asyncio.Future[Any]) -> None:
        if not done.cancelled():
            note(broker, done.exception())

    sent.add_done_callback(check)
    return sent


def producer_failure(broker: KafkaBroker) -> BaseException | None:
    """Why the broker's producer cannot send any more, or None while it works (or is not started)."""
    if (out_of_step := _OUT_OF_STEP.get(id(broker))) is not None:
        return out_of_step
    producer = producer_of(broker)
    sender = getattr(producer, "_sender", None)
    task: asyncio.Task[Any] | None = getattr(sender, "sender_task", None)
    if task is None or not task.done() or task.cancelled():
        return None
    return task.exception()


async def renew_producer(broker: KafkaBroker) -> None:
    """Stop the dead producer and connect a new one, built as the broker built its first."""
    _OUT_OF_STEP.pop(id(broker), None)
    config = broker.config.broker_config
    with contextlib.suppress(Exception):  # its sender already failed: stopping may raise the same error
        await config.producer.disconnect()
    producer = aiokafka.AIOKafkaProducer(**broker._connection_kwargs)
    await config.producer.connect(
        producer, serializer=config.fd_config._serializer, codec=config.broker_codec or DefaultCodec()
    )


async def watch_producer(broker: KafkaBroker, stopping: asyncio.Event | None = None) -> None:
    """Renew the broker's producer whenever a publisher noted it out of step or its sender task died,
    until `stopping` (or cancelled)."""
    stop = stopping or asyncio.Event()
    renewing = False  # a renewal failed half-way (Kafka away again): the broker has no producer now
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=WATCH_INTERVAL_S)
        failure = producer_failure(broker)
        if stop.is_set() or (failure is None and not renewing):
            continue
        if failure is not None:
            log.warning("kafka_producer_renewed", error_type=type(failure).__name__, error=str(failure)[:200])
        try:
            await renew_producer(broker)
        except Exception as exc:  # the next round tries again
            renewing = True
            log.warning("kafka_producer_renewal_failed", error_type=type(exc).__name__)
        else:
            renewing = False
