"""Composition root of the push-worker: consumes push commands, commits after the run's effects are durable."""

from __future__ import annotations

from collections.abc import Sequence

from faststream import FastStream

from services.push_worker.handler import give_up_push, handle_push, slice_budget, work_push_slice
from services.push_worker.review import ReviewPoller
from services.push_worker.run_setup import PushDependencies
from shared.connections.clients import build_platform_client
from shared.connectors.deps import SegmentLookup
from shared.connectors.protocol import PlatformClient
from shared.connectors.throttle import ConnectionThrottle
from shared.db.connections import Connection
from shared.db.runs import fail_run
from shared.messages import ActivationReviewed, PushCommand, StatusEvent
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
from shared.runs.executor import LeaseKeeper
from shared.settings import Settings


def build_push_worker(settings: Settings) -> FastStream:
    """The push-worker app; pools and clients open on startup."""
    settings.require_encryption_key()
    broker = service_broker(settings, "push-worker")
    runtime = WorkerRuntime(
        lambda pool: PushDependencies(
            pool=pool,
            settings=settings,
            publisher=KafkaStatusPublisher(broker, settings.topic("status")),
            client_factory=client_factory,
        )
    )

    async def work_slice(keeper: LeaseKeeper, deps: PushDependencies) -> None:
        await work_push_slice(keeper, deps, slice_budget(deps))

    slices = RunSlices(
        settings,
        kind="push",
        slots=settings.push_runs_in_parallel,
        work=work_slice,
        give_up=give_up_push,
        lanes=True,  # whatever PUSH_RUN_LANES says now, a run split before is worked to its end
    )

    async def fail_push_run(command: PushCommand, reason: str) -> None:
        await fail_run(runtime.deps.pool, command.run_id, reason)

    on_dead_letter = fail_run_when_dead_lettered("push", PushCommand.model_validate_json, fail_push_run)
    guard = service_guard(broker, settings, "push-worker", on_dead_letter=on_dead_letter)
    broker.add_middleware(guard_middleware(guard))

    def client_factory(
        connection: Connection,
        credentials: dict[str, str],
        throttle: ConnectionThrottle,
        lookup: SegmentLookup,
    ) -> PlatformClient:
        return build_platform_client(
            settings, connection, credentials, throttle=throttle, segment_lookup=lookup
        )

    @command_subscriber(
        broker,
        settings,
        "push-worker",
        "push.commands",
        slots=settings.push_runs_in_parallel,
        description="PushCommand: open one push run for the replicas' slices (or push one batch of a step run).",
    )
    async def on_push_command(command: PushCommand) -> None:
        if await handle_push(command, runtime.deps):
            slices.wake()

    declare_publications(
        broker,
        settings,
        "push-worker",
        Publication(
            "status",
            StatusEvent,
            "One event per topic of a push run, plus the run's start and end; keyed by run id.",
        ),
        Publication(
            "status",
            ActivationReviewed,
            "ActivationReviewed: a platform's review of a segment ended after its run; keyed by connection id.",
            channel="status-reviews",
        ),
    )

    async def announce(reviewed: Sequence[ActivationReviewed]) -> None:
        # Keyed by connection: a connection's reviews stay in order.
        for event in reviewed:
            await broker.publish(
                event.model_dump(mode="json"), settings.topic("status"), key=str(event.connection_id).encode()
            )

    reviews = ReviewPoller(announce)
    return worker_app(broker, settings, runtime, background=[slices.run, reviews.run])
