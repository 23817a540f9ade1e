"""Composition root of the sync-worker.

The inbound engine (issue 6) is not built yet: a sync command is acknowledged by
failing its run with that reason, so no run stays queued forever.
"""

from __future__ import annotations

from faststream import AckPolicy, FastStream

from shared.kafka import build_broker, ensure_topics
from shared.messages import RunFinished, RunStarted, SyncCommand, deterministic_event_id
from shared.settings import Settings
from shared.status_publisher import KafkaStatusPublisher

NOT_BUILT = "inbound sync is not implemented yet (issue 6)"


def build_sync_worker(settings: Settings) -> FastStream:
    """The sync-worker app."""
    broker = build_broker(settings, client_id="activator-sync-worker")
    publisher = KafkaStatusPublisher(broker, settings.topic("status"))

    @broker.subscriber(
        settings.topic("sync.commands"),
        group_id="activator-sync-worker",
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
    )
    async def on_sync_command(command: SyncCommand) -> None:
        await publisher.publish(
            [
                RunStarted(
                    event_id=deterministic_event_id(command.run_id, "started"),
                    run_id=command.run_id,
                    org_id=command.org_id,
                    total=0,
                ),
                RunFinished(
                    event_id=deterministic_event_id(command.run_id, "finished"),
                    run_id=command.run_id,
                    org_id=command.org_id,
                    failed_reason=NOT_BUILT,
                ),
            ]
        )

    app = FastStream(broker)

    @app.on_startup
    async def _startup() -> None:
        await ensure_topics(settings)

    return app
