"""Composition root of the status-recorder: consumes activator.status in batches, persists, commits."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from faststream import AckPolicy, FastStream
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError

from services.status_recorder.persist import persist_events
from shared.messages import STATUS_TOPIC_EVENT, StatusTopicEvent
from shared.messaging.consumer_guard import PoisonMessage
from shared.messaging.producer_watch import watch_producer
from shared.messaging.worker_app import open_worker, service_broker, service_guard
from shared.messaging.worker_health import WorkerHealth
from shared.runs.retries import RetryPolicy
from shared.settings import Settings
from shared.tracing import tracer

log = structlog.get_logger(__name__)


async def _undecoded(_message: Any) -> None:
    """The handler validates the raw records itself: FastStream's JSON decoding of each one would be wasted."""


def build_recorder(settings: Settings) -> FastStream:
    """The recorder app; the pool opens on startup."""
    broker = service_broker(settings, "status-recorder")
    guard = service_guard(broker, settings, "status-recorder")
    state: dict[str, Any] = {}
    stopping = asyncio.Event()

    @broker.subscriber(
        settings.topic("status"),
        group_id=settings.consumer_group("status-recorder"),
        batch=True,
        max_records=settings.recorder_batch_max,
        batch_timeout_ms=settings.recorder_batch_timeout_ms,
        fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
        decoder=_undecoded,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        max_poll_interval_ms=settings.kafka_max_poll_interval_ms,
        title="status-recorder/status",
        description="Status events of every run, persisted in batches (each event is a StatusEvent).",
    )
    async def record(message: KafkaMessage) -> None:
        records = message.raw_message if isinstance(message.raw_message, tuple) else (message.raw_message,)
        events: list[StatusTopicEvent] = []
        for record in records:
            try:
                events.append(STATUS_TOPIC_EVENT.validate_json(record.value or b""))
            except ValidationError as exc:
                await guard.dead_letter(record, PoisonMessage(str(exc)), attempts=1)

        async def persist() -> None:
            with tracer.start_as_current_span("record status events", attributes={"events": len(events)}):
                await persist_events(
                    state["pool"],
                    events,
                    max_errors_stored=settings.max_run_errors_stored,
                    retries=RetryPolicy.of(settings),
                )

        # A batch that keeps failing for a non-infrastructure reason would block every run behind it:
        # after the bounded attempts its events go to the DLQ (replayable with `activator dlq replay`).
        await guard.run(records[0], persist, batch=records)
        log.debug("status_events_recorded", count=len(events), first_offset=records[0].offset)

    app = FastStream(broker)
    health = WorkerHealth(broker, stall_s=settings.worker_stall_s)

    @app.on_startup
    async def _startup() -> None:
        state["pool"] = await open_worker(settings, health)

    @app.after_startup
    async def _watch_producer() -> None:  # the dead-letter producer (shared/messaging/producer_watch.py)
        state["producer_watch"] = asyncio.create_task(watch_producer(broker, stopping))

    @app.after_shutdown
    async def _shutdown() -> None:
        # After the broker stopped: the batch in flight is persisted and committed first.
        stopping.set()
        if "producer_watch" in state:
            await state["producer_watch"]
        if "pool" in state:  # not when stopped while still waiting for Postgres or Kafka
            await state["pool"].close()
        await health.stop()

    return app
