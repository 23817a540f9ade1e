"""Composition root of the push-worker: consumes push commands, commits after the run's effects are durable."""

from __future__ import annotations

from typing import Any

from faststream import AckPolicy, FastStream

from services.push_worker.handler import PushDependencies, handle_push
from shared.connectors.factory import create_platform_client
from shared.connectors.protocol import PlatformClient
from shared.db.connections import Connection
from shared.db.pool import create_pool
from shared.kafka import build_broker, ensure_topics
from shared.messages import PushCommand
from shared.settings import Settings
from shared.status_publisher import KafkaStatusPublisher


def build_push_worker(settings: Settings) -> FastStream:
    """The push-worker app; pools and clients open on startup."""
    settings.require_encryption_key()
    broker = build_broker(settings, client_id="activator-push-worker")
    state: dict[str, PushDependencies] = {}

    def client_factory(connection: Connection, credentials: dict[str, str]) -> PlatformClient:
        return create_platform_client(
            connection.platform,
            connection.auth_type,
            credentials,
            connection.config,
            settings=settings.http(),
        )

    @broker.subscriber(
        settings.topic("push.commands"),
        group_id="activator-push-worker",
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        max_workers=settings.push_runs_in_parallel,
        max_poll_interval_ms=settings.kafka_max_poll_interval_ms,
    )
    async def on_push_command(command: PushCommand) -> None:
        await handle_push(command, state["deps"])

    app = FastStream(broker)

    @app.on_startup
    async def _startup() -> None:
        await ensure_topics(settings)
        pool: Any = await create_pool(settings.database_url, max_size=settings.db_pool_max)
        state["deps"] = PushDependencies(
            pool=pool,
            settings=settings,
            publisher=KafkaStatusPublisher(broker, settings.topic("status")),
            client_factory=client_factory,
        )

    @app.on_shutdown
    async def _shutdown() -> None:
        await state["deps"].pool.close()

    return app
