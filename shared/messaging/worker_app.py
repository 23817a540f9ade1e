"""The lifecycle every command worker shares: probes, then Postgres and Kafka (waited for) on start; a clean
hand-over on stop, also when stopped before it ever connected."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from typing import Any, Generic, Protocol, TypeVar

import asyncpg
import structlog
from faststream import AckPolicy, FastStream
from faststream.kafka import KafkaBroker
from faststream.kafka.subscriber.usecase import ConcurrentBetweenPartitionsSubscriber

from shared.db.pool import POSTGRES_UNAVAILABLE
from shared.messaging.consumer_guard import ConsumerGuard, DeadLetterHook
from shared.messaging.kafka import build_broker, channel_title
from shared.messaging.producer_watch import watch_producer
from shared.messaging.worker_health import WorkerHealth
from shared.runs import leases, step_leases
from shared.runs.executor import ExecutorSettings, LeaseKeeper, RunExecutor
from shared.settings import Settings
from shared.start_order import wait_for_kafka, wait_for_postgres
from shared.tracing import configure_tracing

log = structlog.get_logger(__name__)

BACKGROUND_RESTART_S = 1.0


def service_broker(settings: Settings, role: str) -> KafkaBroker:
    """A consuming service's idempotent broker (client id `activator-<role>`), traced when an exporter is set."""
    return build_broker(
        settings,
        client_id=f"activator-{role}",
        tracer_provider=configure_tracing(role, settings.otel_traces_exporter),
    )


def service_guard(
    broker: KafkaBroker, settings: Settings, role: str, *, on_dead_letter: DeadLetterHook | None = None
) -> ConsumerGuard:
    """Bounded retries, then the DLQ: how every consuming service handles a message that keeps failing."""
    return ConsumerGuard(
        broker,
        settings.topic("dlq"),
        max_attempts=settings.consumer_max_attempts,
        backoff_s=settings.consumer_backoff_s,
        service=role,
        on_dead_letter=on_dead_letter,
    )


def command_subscriber(
    broker: KafkaBroker, settings: Settings, role: str, topic: str, *, slots: int, description: str
) -> ConcurrentBetweenPartitionsSubscriber:
    """A worker's subscription to its command topic (`push.commands`): every replica in the role's group,
    from the earliest offset, `slots` commands at a time; a failure nacks (the consumer guard retries)."""
    return broker.subscriber(
        settings.topic(topic),
        group_id=settings.consumer_group(role),
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        max_workers=slots,
        fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
        max_poll_interval_ms=settings.kafka_max_poll_interval_ms,
        title=channel_title(role, topic),
        description=description,
    )


async def _release_previous_leases(pool: asyncpg.Pool[Any], instance: str) -> None:
    """Before this process claims anything: what its previous incarnation held goes on at once (else, as
    without an instance id, the leases expire after their TTL)."""
    try:
        released = await leases.release_held_by(pool, instance)
    except POSTGRES_UNAVAILABLE as exc:  # a schema not migrated yet, or Postgres gone again
        log.warning("leases_of_previous_instance_kept", instance=instance, error_type=type(exc).__name__)
        return
    if released:
        log.info("leases_of_previous_instance_released", instance=instance, runs=released)


async def open_worker(settings: Settings, health: WorkerHealth) -> asyncpg.Pool[Any]:
    """Serve the probes, then wait for Postgres and Kafka (whichever comes back last): the pool.

    Until both answer the worker is alive but not ready; the broker's consumers start after this returns.
    """
    health.start(settings.metrics_port)
    pool = await wait_for_postgres(settings, max_size=settings.db_pool_max)
    health.attach_pool(pool)
    if settings.worker_instance_id:
        # Before this process claims anything: what its previous incarnation held goes on at once.
        released = await leases.release_held_by(pool, settings.worker_instance_id)
        if released:
            log.info(
                "leases_of_previous_instance_released", instance=settings.worker_instance_id, runs=released
            )
    await wait_for_kafka(settings)
    return pool


class WorkerDependencies(Protocol):
    @property
    def pool(self) -> asyncpg.Pool[Any]: ...

    @property
    def stopping(self) -> asyncio.Event: ...


DepsT = TypeVar("DepsT", bound=WorkerDependencies)


class WorkerRuntime(Generic[DepsT]):
    """The dependencies a worker's handlers use, built once the process starts (nothing opens at import)."""

    def __init__(self, build: Callable[[asyncpg.Pool[Any]], DepsT]) -> None:
        self._build = build
        self._deps: DepsT | None = None

    @property
    def deps(self) -> DepsT:
        """The dependencies; only available after start-up."""
        if self._deps is None:
            msg = "the worker has not started"
            raise RuntimeError(msg)
        return self._deps

    @property
    def started(self) -> bool:
        """Whether start-up got as far as building the dependencies (not when stopped while waiting)."""
        return self._deps is not None

    def start(self, pool: asyncpg.Pool[Any]) -> None:
        """Build the dependencies over the opened pool."""
        self._deps = self._build(pool)


Background = Callable[[Any], Coroutine[Any, Any, None]]
"""A loop the worker runs beside its consumer (e.g. a run executor), given the dependencies; it must
return once `deps.stopping` is set."""


async def keep_running(loop: Background, deps: WorkerDependencies) -> None:
    """Run `loop` until `deps.stopping`, starting it again a second after it raised or returned early: a
    worker whose loop died would stay alive and ready, consuming commands that nobody executes."""
    name = getattr(loop, "__qualname__", repr(loop))
    while not deps.stopping.is_set():
        try:
            await loop(deps)
        except Exception:
            log.exception("background_loop_failed", loop=name)
        if deps.stopping.is_set():
            return
        log.error("background_loop_restarting", loop=name, after_s=BACKGROUND_RESTART_S)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(deps.stopping.wait(), timeout=BACKGROUND_RESTART_S)


class RunSlices(Generic[DepsT]):
    """A worker's run executor for one kind, as a background loop: any replica works any open run's next
    slice (commands only open runs, see shared/runs/leases.py); `wake()` when this process opened one."""

    def __init__(
        self,
        settings: Settings,
        *,
        kind: str,
        slots: int,
        work: Callable[[LeaseKeeper, DepsT], Awaitable[None]],
        give_up: Callable[[LeaseKeeper, DepsT, str], Awaitable[None]],
        lanes: bool = False,
    ) -> None:
        self._config = ExecutorSettings(
            kind=kind,
            slots=slots,
            lease_ttl_s=settings.run_lease_ttl_s,
            poll_s=settings.run_poll_interval_s,
            max_slice_failures=settings.run_max_slice_failures,
            holder=settings.worker_instance_id or None,
            lanes=lanes,
        )
        self._work = work
        self._give_up = give_up
        self._executor: RunExecutor | None = None

    async def run(self, deps: DepsT) -> None:
        """The background loop (pass it to `worker_app`); returns once `deps.stopping` is set."""

        async def work(keeper: LeaseKeeper) -> None:
            await self._work(keeper, deps)

        async def give_up(keeper: LeaseKeeper, reason: str) -> None:
            await self._give_up(keeper, deps, reason)

        self._executor = RunExecutor(deps.pool, self._config, work, deps.stopping, give_up)
        await self._executor.run()

    def wake(self) -> None:
        """Look for work now (a command of this process opened a run); a no-op before the loop starts."""
        if self._executor is not None:
            self._executor.wake()


@contextlib.asynccontextmanager
async def step_lease(
    pool: asyncpg.Pool[Any], settings: Settings, run_id: uuid.UUID, kind: str
) -> AsyncIterator[LeaseKeeper | None]:
    """Hold a step run's lease for one step, waiting behind a slice in flight; None when the run finished
    or went meanwhile. The lease is given back after the step (not after an error: it then expires)."""
    lease = await step_leases.wait_for_run(
        pool,
        run_id,
        kind,
        ttl_s=settings.run_lease_ttl_s,
        wait_s=settings.run_lease_ttl_s + settings.run_slice_s,
        holder=settings.worker_instance_id or None,
    )
    if lease is None:
        yield None
        return
    async with LeaseKeeper(pool, lease, settings.run_lease_ttl_s, kind) as keeper:
        yield keeper
        await keeper.release()


def worker_app(
    broker: KafkaBroker,
    settings: Settings,
    runtime: WorkerRuntime[Any],
    background: Sequence[Background] = (),
) -> FastStream:
    """A FastStream app that opens what the worker needs on start and hands in-flight work over on stop."""
    app = FastStream(broker)
    loops: list[asyncio.Task[None]] = []
    health = WorkerHealth(broker, stall_s=settings.worker_stall_s)

    @app.on_startup
    async def _open() -> None:
        runtime.start(await open_worker(settings, health))

    @app.after_startup
    async def _start_background() -> None:
        loops.extend(asyncio.create_task(keep_running(loop, runtime.deps)) for loop in background)
        loops.append(asyncio.create_task(watch_producer(broker, runtime.deps.stopping)))

    @app.on_shutdown
    async def _stop_at_boundary() -> None:
        # Before the broker stops: in-flight runs leave at their next batch or page and are given back.
        if runtime.started:
            runtime.deps.stopping.set()
            await asyncio.gather(*loops, return_exceptions=True)

    @app.after_shutdown
    async def _close() -> None:
        # Stopped while still waiting for Postgres or Kafka: there is nothing to close but the probes.
        if runtime.started:
            await runtime.deps.pool.close()
        await health.stop()

    return app
