"""Composition root of the intake: reads run requests from activator.requests, answers on activator.status."""

from __future__ import annotations

from faststream import AckPolicy, FastStream
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from services.intake.handler import IncomingRequest, IntakeDependencies, handle_request
from shared.messages import RequestAccepted, RequestRejected, RunRequestMessage, StatusTopicEvent
from shared.messaging.consumer_guard import guard_middleware
from shared.messaging.kafka import Publication, declare_publications
from shared.messaging.worker_app import WorkerRuntime, service_broker, service_guard, worker_app
from shared.settings import Settings


class KafkaAnswerPublisher:
    """AnswerPublisher over the service's idempotent producer."""

    def __init__(self, broker: KafkaBroker, topic: str) -> None:
        self._broker = broker
        self._topic = topic

    async def publish(self, answer: RequestAccepted | RequestRejected, key: str) -> None:
        """Send the answer to activator.status and return once the broker acknowledged it."""
        await self._broker.publish(answer.model_dump(mode="json"), self._topic, key=key.encode())


def build_intake(settings: Settings) -> FastStream:
    """The intake app; the pool opens on startup."""
    broker = service_broker(settings, "intake")
    guard = service_guard(broker, settings, "intake")
    broker.add_middleware(guard_middleware(guard))
    runtime = WorkerRuntime(
        lambda pool: IntakeDependencies(
            pool=pool, settings=settings, answers=KafkaAnswerPublisher(broker, settings.topic("status"))
        )
    )

    @broker.subscriber(
        settings.topic("requests"),
        group_id=settings.consumer_group("intake"),
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        max_poll_interval_ms=settings.kafka_max_poll_interval_ms,
        title="intake/requests",
        description=(
            "PushRequest or SyncRequest from an upstream service, keyed by org id; the org's API key "
            "travels in the x-activator-api-key header. Answered on the status topic."
        ),
    )
    async def on_request(message: KafkaMessage) -> None:
        record = message.raw_message
        assert not isinstance(record, tuple)
        incoming = IncomingRequest(
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value or b"",
            headers={name: value or b"" for name, value in (record.headers or ())},
        )
        await handle_request(incoming, runtime.deps)

    # What upstream services send here is documented with what the intake answers.
    declare_publications(
        broker,
        settings,
        "upstream",
        Publication(
            "requests",
            RunRequestMessage,
            "What an upstream service publishes to request a run (see intake/requests).",
        ),
    )
    declare_publications(
        broker,
        settings,
        "intake",
        Publication(
            "status",
            StatusTopicEvent,
            "RequestAccepted (with the run id; through the outbox, with the run) or RequestRejected "
            "(with the code and reason) for each request.",
        ),
    )

    return worker_app(broker, settings, runtime)
