"""What a push slice works with: the run's connection opened (typed config, credentials, client, rate
budget), and the run's start and end as status events."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import structlog

from services.push_worker.execute import RunContext
from services.push_worker.plan import Observed
from services.push_worker.reader import PlanContext, ReadBack
from services.push_worker.slice import SliceTarget
from shared.connectors.deps import SegmentLookup
from shared.connectors.errors import ConnectorConfigError, PlatformError
from shared.connectors.factory import outbound_config
from shared.connectors.protocol import (
    ConfirmingPlatformClient,
    FixedParentPlatformClient,
    PlatformClient,
    PlatformSegment,
)
from shared.connectors.throttle import ConnectionThrottle
from shared.db import activations as ledger
from shared.db.activations import ActivationWrite
from shared.db.connections import Connection, decrypt_credentials, get_connection
from shared.db.output_templates import active_template
from shared.db.runs import Run, cancel_or_pause, set_throttled_until
from shared.db.topics import count_topics_for_push
from shared.messages import ItemResult, RunFinished, RunStarted, deterministic_event_id
from shared.messaging.status_publisher import StatusPublisher
from shared.metrics import ITEMS_PUSHED, THROTTLED_SECONDS
from shared.output_templates import render
from shared.settings import Settings

log = structlog.get_logger(__name__)

ClientFactory = Callable[[Connection, dict[str, str], ConnectionThrottle, SegmentLookup], PlatformClient]


@dataclass(frozen=True, slots=True)
class PushDependencies:
    pool: asyncpg.Pool[Any]
    settings: Settings
    publisher: StatusPublisher
    client_factory: ClientFactory
    # Set when the worker is asked to stop: slices end at a batch boundary and give their run back.
    stopping: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(frozen=True, slots=True)
class RunRef:
    run_id: uuid.UUID
    org_id: uuid.UUID


async def finish_run(
    deps: PushDependencies, run: RunRef, *, total: int | None = None, **outcome: Any
) -> None:
    """Publish the run's end (with its start first when it never started); the recorder closes it."""
    events: list[RunStarted | RunFinished] = []
    if total is not None:
        events.append(started_event(run, total))
    events.append(
        RunFinished(
            event_id=deterministic_event_id(run.run_id, "finished"),
            run_id=run.run_id,
            org_id=run.org_id,
            **outcome,
        )
    )
    await deps.publisher.publish(events)


def started_event(run: RunRef, total: int) -> RunStarted:
    """The run's start with its total (the same event id on every slice that publishes it)."""
    return RunStarted(
        event_id=deterministic_event_id(run.run_id, "started"),
        run_id=run.run_id,
        org_id=run.org_id,
        total=total,
    )


@dataclass
class OpenedRun:
    """A run whose connection is ready to push to."""

    command_ref: RunRef
    connection: Connection
    client: PlatformClient
    throttle: ConnectionThrottle
    context: RunContext
    plan: PlanContext
    concurrency: int
    dry_run: bool
    deps: PushDependencies

    def target(self) -> SliceTarget:
        """Where this run's slices push."""
        return SliceTarget(
            client=self.client,
            context=self.context,
            concurrency=self.concurrency,
            batches_in_flight=self.deps.settings.push_batches_in_flight,
            dry_run=self.dry_run,
        )

    def share(self, lane: int, lanes: int) -> None:
        """Push one lane of `lanes`: 1/lanes of the connection's rate limit, and the lane's part of its
        concurrency (spread so that the parts add up to it; lanes_for never makes more lanes than that)."""
        if lanes <= 1:
            return
        self.throttle.divide(lanes)
        whole = self.concurrency
        self.concurrency = max(1, whole // lanes + (1 if lane < whole % lanes else 0))

    async def cancel_requested(self) -> bool:
        """Whether someone asked to stop the run (checked before each batch); a platform's pause that
        another lane of the run heard is taken up here too, so every lane waits it out."""
        cancelled, paused_s = await cancel_or_pause(self.deps.pool, self.context.run_id)
        if paused_s > 0:
            await self.throttle.pause(paused_s)
        return cancelled

    async def record(self, writes: Sequence[ActivationWrite]) -> None:
        """Keep a batch's outcomes in the ledger."""
        await ledger.record_activations(
            self.deps.pool,
            org_id=self.context.org_id,
            connection_id=self.connection.id,
            run_id=self.context.run_id,
            writes=writes,
        )

    async def publish(self, events: list[ItemResult]) -> None:
        """Send a batch's item events to the status topic."""
        await self.deps.publisher.publish(events)
        for event in events:
            ITEMS_PUSHED.labels(self.connection.platform, event.outcome.value).inc()

    async def finish(self, *, cancelled: bool = False, failed_reason: str | None = None) -> None:
        """Publish the run's end."""
        await finish_run(self.deps, self.command_ref, cancelled=cancelled, failed_reason=failed_reason)

    async def confirm(self) -> None:
        """Wait (bounded) for the platform to finish this run's writes, whichever worker made them (asked by the
        references the ledger keeps), and keep the outcome in the ledger."""
        client, pool = self.client, self.deps.pool
        if not isinstance(client, ConfirmingPlatformClient):
            return  # the platform's answer to each write was final
        bound = log.bind(run_id=str(self.context.run_id), connection_id=str(self.connection.id))
        pending = await ledger.pending_from_run(pool, self.connection.id, self.plan.run_id)
        if not pending:
            return
        try:
            confirmations = await client.confirm(list(pending.values()))
        except PlatformError as exc:
            bound.warning("push_confirmation_failed", error_code=exc.code)
            return  # the activations stay pending; the next push asks again
        topics = {write.platform_segment_id: topic_id for topic_id, write in pending.items()}
        await ledger.record_confirmations(
            pool,
            self.connection.id,
            {topics[segment_id]: (found.state, found.message) for segment_id, found in confirmations.items()},
        )
        states = [found.state for found in confirmations.values()]
        bound.info(
            "push_confirmed", **{state: states.count(state) for state in ("active", "failed", "pending")}
        )

    async def close(self) -> None:
        """Count the time spent throttled and close the client's HTTP pool."""
        THROTTLED_SECONDS.labels(self.connection.platform).inc(self.throttle.throttled_s)
        await self.client.aclose()


def read_back(client: PlatformClient, concurrency: int) -> ReadBack:
    """A reconcile run's read-back: each segment fetched from the platform, `concurrency` at a time."""
    slots = asyncio.Semaphore(concurrency)

    async def one(segment_id: str) -> PlatformSegment | PlatformError | None:
        async with slots:
            try:
                return await client.get_segment(segment_id)
            except PlatformError as exc:
                return exc

    async def fetch(pairs: Sequence[tuple[uuid.UUID, str]]) -> Observed:
        found = await asyncio.gather(*(one(segment_id) for _, segment_id in pairs))
        return {topic_id: segment for (topic_id, _), segment in zip(pairs, found, strict=True)}

    return fetch


async def connection_client(
    deps: PushDependencies, connection: Connection, throttle: ConnectionThrottle
) -> PlatformClient:
    """The connection's platform client over its decrypted credentials; ConnectorConfigError when its
    stored config no longer builds one."""
    credentials = await decrypt_credentials(
        deps.pool,
        connection.org_id,
        connection.id,
        deps.settings.require_encryption_key(),
        fallback_keys=deps.settings.previous_encryption_keys(),
    )
    return deps.client_factory(
        connection, credentials, throttle, ledger.segment_lookup(deps.pool, connection.id)
    )


def requested_topics(run: Run) -> list[uuid.UUID] | None:
    """The topics the run was asked to push (None: every active one, and deletions deactivated)."""
    topic_ids = run.request.get("topicIds")
    return None if topic_ids is None else [uuid.UUID(str(topic_id)) for topic_id in topic_ids]


async def run_total(pool: asyncpg.Pool[Any], run: Run) -> int:
    """The run's items: its topics, plus the deletions a full run deactivates."""
    topic_ids = requested_topics(run)
    total = await count_topics_for_push(pool, run.org_id, topic_ids)
    if topic_ids is None:
        total += await ledger.count_to_deactivate(pool, run.connection_id, run.id)
    return total


async def open_run(deps: PushDependencies, run: Run, *, lane: int = 0, lanes: int = 1) -> OpenedRun | None:
    """The run's connection opened for pushing lane `lane` of its `lanes` (its share of the connection's
    rate limit and concurrency, see OpenedRun.share); None when the run ended instead (its end published)."""
    ref = RunRef(run.id, run.org_id)
    connection = await get_connection(deps.pool, run.org_id, run.connection_id)
    if connection is None:
        await finish_run(deps, ref, total=0, failed_reason="the connection no longer exists")
        return None
    if run.cancel_requested and run.started_at is None:
        await finish_run(deps, ref, total=0, cancelled=True)
        return None
    try:
        config = outbound_config(connection.platform, connection.config)
    except ConnectorConfigError as exc:
        await finish_run(deps, ref, total=0, failed_reason=str(exc))
        return None
    throttle = ConnectionThrottle(
        rps=config.rate_limit_rps, on_pause=lambda seconds: set_throttled_until(deps.pool, run.id, seconds)
    )
    if run.throttled_until is not None:
        # The platform's Retry-After outlives the slice that heard it: the next holder waits too.
        remaining = (run.throttled_until - datetime.now(UTC)).total_seconds()
        if remaining > 0:
            await throttle.pause(remaining)
    try:
        client = await connection_client(deps, connection, throttle)
    except ConnectorConfigError as exc:
        await finish_run(deps, ref, total=0, failed_reason=str(exc))
        return None
    key = config.output_template_key
    template = await active_template(deps.pool, run.org_id, key) if key else None
    concurrency = config.max_concurrency or deps.settings.push_concurrency_per_connection
    opened = OpenedRun(
        command_ref=ref,
        connection=connection,
        client=client,
        throttle=throttle,
        context=RunContext(
            run_id=run.id,
            org_id=run.org_id,
            currency=config.currency,
            data_source_location=config.data_source_location,
            attempt=1,
        ),
        plan=PlanContext(
            run_id=run.id,
            org_id=run.org_id,
            connection_id=connection.id,
            topic_ids=requested_topics(run),
            render=lambda topic: render(template, topic, currency=config.currency),
            default_cpm=config.default_cpm,
            currency=config.currency,
            read_back=read_back(client, concurrency) if run.request.get("reconcile") else None,
            moves=isinstance(client, FixedParentPlatformClient),
        ),
        concurrency=concurrency,
        dry_run=run.dry_run,
        deps=deps,
    )
    opened.share(lane, lanes)
    return opened
