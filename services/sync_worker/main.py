"""Composition root of the sync-worker: consumes sync commands, commits after each run's pages are durable."""

from __future__ import annotations

from faststream import FastStream

from services.sync_worker.closing import SyncRunRef, close_run
from services.sync_worker.handler import SyncDependencies, give_up_sync, handle_sync, work_sync_auto_slice
from shared.connections.clients import build_connection_source
from shared.db.connections import Connection
from shared.inbound.config import InboundConfig
from shared.inbound.source import InboundSource
from shared.messages import SYNC_WORK, StatusEvent, SyncWork
from shared.messaging.consumer_guard import fail_run_when_dead_lettered, guard_middleware
from shared.messaging.kafka import Publication, declare_publications
from shared.messaging.status_publisher import KafkaStatusPublisher
from shared.messaging.worker_app import (
    RunSlices,
    WorkerRuntime,
    command_subscriber,
    service_broker,
    service_guard,
    worker_app,
)
from shared.settings import Settings


def build_sync_worker(settings: Settings) -> FastStream:
    """The sync-worker app; the pool opens on startup."""
    settings.require_encryption_key()
    broker = service_broker(settings, "sync-worker")

    async def fail_sync_run(work: SyncWork, reason: str) -> None:
        deps = runtime.deps
        run = SyncRunRef(run_id=work.run_id, org_id=work.org_id, connection_id=work.connection_id)
        await close_run(deps.runs, deps.publisher, run, status="failed", reason=reason)

    on_dead_letter = fail_run_when_dead_lettered("sync", SYNC_WORK.validate_json, fail_sync_run)
    guard = service_guard(broker, settings, "sync-worker", on_dead_letter=on_dead_letter)
    broker.add_middleware(guard_middleware(guard))

    def source_factory(
        connection: Connection, config: InboundConfig, credentials: dict[str, str]
    ) -> InboundSource:
        return build_connection_source(settings, connection, config, credentials)

    runtime = WorkerRuntime(
        lambda pool: SyncDependencies(
            pool=pool,
            settings=settings,
            publisher=KafkaStatusPublisher(broker, settings.topic("status")),
            source_factory=source_factory,
        )
    )
    slices = RunSlices(
        settings,
        kind="sync",
        slots=settings.sync_runs_in_parallel,
        work=work_sync_auto_slice,
        give_up=give_up_sync,
    )

    @command_subscriber(
        broker,
        settings,
        "sync-worker",
        "sync.commands",
        slots=settings.sync_runs_in_parallel,
        description="SyncCommand: open a sync run for the replicas' slices (a step run: start it); SyncStep: one page of a step run.",
    )
    async def on_sync_command(work: SyncWork) -> None:
        if await handle_sync(work, runtime.deps):
            slices.wake()

    declare_publications(
        broker,
        settings,
        "sync-worker",
        Publication(
            "status",
            StatusEvent,
            "One event per committed page of a sync run, plus the run's start and end; keyed by run id.",
        ),
    )

    return worker_app(broker, settings, runtime, background=[slices.run])
