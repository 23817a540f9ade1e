"""Kafka wiring shared by the services: topic setup and an idempotent FastStream broker, both secured alike."""

from __future__ import annotations

import contextlib
import logging

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream.kafka import KafkaBroker
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from opentelemetry.sdk.trace import TracerProvider

from shared.messaging.kafka_security import bootstrap_servers, broker_security, client_options
from shared.settings import Settings

log = structlog.get_logger(__name__)

TOPIC_NAMES = ("requests", "push.commands", "sync.commands", "status", "dlq")


async def ensure_topics(settings: Settings) -> None:
    """Create Activator's topics with the configured partitions when they do not exist yet."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(
                name=settings.topic(name),
                num_partitions=settings.kafka_partitions,
                replication_factor=settings.kafka_replication_factor,
            )
            for name in TOPIC_NAMES
            if settings.topic(name) not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another replica created them first
                await admin.create_topics(missing)
            log.info("kafka_topics_created", topics=[topic.name for topic in missing])
    finally:
        await admin.close()


def build_broker(
    settings: Settings, *, client_id: str, tracer_provider: TracerProvider | None = None
) -> KafkaBroker:
    """A broker whose producer is idempotent with acks=all; consumers commit manually.

    With a tracer provider, trace context travels in the message headers both ways.
    """
    return KafkaBroker(
        bootstrap_servers(settings),  # a comma-separated string would be taken as one host
        client_id=client_id,
        security=broker_security(settings),
        enable_idempotence=True,
        acks="all",
        allow_auto_create_topics=False,
        linger_ms=settings.kafka_linger_ms,
        graceful_timeout=settings.worker_graceful_timeout_s,
        logger=logging.getLogger("activator.faststream"),
        middlewares=[KafkaTelemetryMiddleware(tracer_provider=tracer_provider)] if tracer_provider else (),
    )
