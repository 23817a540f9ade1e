"""Kafka wiring shared by the services: topic setup and an idempotent FastStream broker, both secured alike."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

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
# With the replication settings unset: as many replicas as brokers up to this, and one fewer in sync
# (at least 1), so acks=all writes go on through the loss of one broker.
DEFAULT_MAX_REPLICAS = 3
DEFAULT_MAX_MIN_INSYNC = 2


def topic_replication(settings: Settings, brokers: int) -> tuple[int, int]:
    """(replication factor, min.insync.replicas) for new topics on a cluster of `brokers` brokers.

    Explicit settings win; unset, 1 broker gives (1, 1), 2 give (2, 1), 3 or more (3, 2).
    """
    factor = settings.kafka_replication_factor or max(1, min(DEFAULT_MAX_REPLICAS, brokers))
    insync = settings.kafka_min_insync_replicas or max(1, min(DEFAULT_MAX_MIN_INSYNC, factor - 1))
    return factor, insync


async def ensure_topics(settings: Settings) -> None:
    """Create Activator's topics with the configured partitions when they do not exist yet."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        names = [settings.topic(name) for name in TOPIC_NAMES if settings.topic(name) not in existing]
        if not names:
            return
        brokers = len((await admin.describe_cluster())["brokers"])
        factor, insync = topic_replication(settings, brokers)
        missing = [
            NewTopic(
                name=name,
                num_partitions=settings.kafka_partitions,
                replication_factor=factor,
                topic_configs={"min.insync.replicas": str(insync)},
            )
            for name in names
        ]
        with contextlib.suppress(TopicAlreadyExistsError):  # another replica created them first
            await admin.create_topics(missing)
        log.info(
            "kafka_topics_created",
            topics=names,
            replication_factor=factor,
            min_insync_replicas=insync,
            brokers=brokers,
        )
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
        request_timeout_ms=settings.kafka_request_timeout_ms,
        graceful_timeout=settings.worker_graceful_timeout_s,
        logger=logging.getLogger("activator.faststream"),
        middlewares=[KafkaTelemetryMiddleware(tracer_provider=tracer_provider)] if tracer_provider else (),
    )


def channel_title(role: str, topic: str) -> str:
    """A channel's title in the AsyncAPI document: `push-worker/push-commands` for what a role does with a topic."""
    return f"{role}/{topic.replace('.', '-')}"


@dataclass(frozen=True, slots=True)
class Publication:
    """A message a service publishes: the topic's short name, the message's type, what the channel carries;
    `channel` names the channel where one topic carries two kinds of message (else the topic's name)."""

    topic: str
    message: object
    description: str
    channel: str | None = None


def declare_publications(
    broker: KafkaBroker, settings: Settings, role: str, *publications: Publication
) -> None:
    """Document what `role` publishes on its broker (the AsyncAPI document is generated from the brokers)."""
    for publication in publications:
        broker.publisher(
            settings.topic(publication.topic),
            title=channel_title(role, publication.channel or publication.topic),
            description=publication.description,
            schema=publication.message,
        )
