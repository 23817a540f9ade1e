"""Drives one push run: plan, push in batches, record the ledger, report every item."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import structlog

from services.push_worker.execute import RunContext, abandoned_events, execute_batch, plan_events
from services.push_worker.plan import PlannedItem, plan_push
from shared.connectors.batch import CallSlots
from shared.connectors.deps import SegmentLookup
from shared.connectors.errors import ConnectorConfigError, PlatformError
from shared.connectors.factory import outbound_config
from shared.connectors.outbound_config import OutboundConfig
from shared.connectors.protocol import ConfirmingPlatformClient, PlatformClient
from shared.connectors.throttle import ConnectionThrottle
from shared.consumer_guard import ShutdownInterrupted
from shared.db import activations as ledger
from shared.db.connections import Connection, decrypt_credentials, get_connection
from shared.db.output_templates import active_template
from shared.db.runs import get_run_by_id, heartbeat, is_cancel_requested, set_throttled_until
from shared.db.topics import active_topics_for_push
from shared.messages import PushCommand, RunFinished, RunStarted, deterministic_event_id
from shared.metrics import ITEMS_PUSHED, THROTTLED_SECONDS
from shared.output_templates import render
from shared.settings import Settings
from shared.status_publisher import StatusPublisher

log = structlog.get_logger(__name__)

ClientFactory = Callable[[Connection, dict[str, str], ConnectionThrottle, SegmentLookup], PlatformClient]


@dataclass(frozen=True, slots=True)
class PushDependencies:
    pool: asyncpg.Pool[Any]
    settings: Settings
    publisher: StatusPublisher
    client_factory: ClientFactory
    # Set when the worker is asked to stop: the run is left at a batch boundary for the next owner.
    stopping: asyncio.Event = field(default_factory=asyncio.Event)


async def _finish(
    deps: PushDependencies, command: PushCommand, *, total: int | None = None, **outcome: Any
) -> None:
    events: list[RunStarted | RunFinished] = []
    if total is not None:
        events.append(
            RunStarted(
                event_id=deterministic_event_id(command.run_id, "started"),
                run_id=command.run_id,
                org_id=command.org_id,
                total=total,
            )
        )
    events.append(
        RunFinished(
            event_id=deterministic_event_id(command.run_id, "finished"),
            run_id=command.run_id,
            org_id=command.org_id,
            **outcome,
        )
    )
    await deps.publisher.publish(events)


async def handle_push(command: PushCommand, deps: PushDependencies) -> None:
    """Process a push command; safe to call again with the same command (redelivery)."""
    bound = log.bind(
        run_id=str(command.run_id), connection_id=str(command.connection_id), org_id=str(command.org_id)
    )
    run = await get_run_by_id(deps.pool, command.run_id)
    if run is None or run.is_terminal:
        bound.info("push_command_ignored", reason="run finished or gone")
        return
    connection = await get_connection(deps.pool, command.org_id, command.connection_id)
    if connection is None:
        await _finish(deps, command, total=0, failed_reason="the connection no longer exists")
        return
    if run.cancel_requested:
        await _finish(deps, command, total=0, cancelled=True)
        return
    try:
        config = outbound_config(connection.platform, connection.config)
    except ConnectorConfigError as exc:
        await _finish(deps, command, total=0, failed_reason=str(exc))
        return
    key = deps.settings.require_encryption_key()
    credentials = await decrypt_credentials(
        deps.pool,
        command.org_id,
        command.connection_id,
        key,
        fallback_keys=deps.settings.previous_encryption_keys(),
    )
    throttle = ConnectionThrottle(
        rps=config.rate_limit_rps,
        on_pause=lambda seconds: set_throttled_until(deps.pool, command.run_id, seconds),
    )
    try:
        client = deps.client_factory(
            connection, credentials, throttle, ledger.segment_lookup(deps.pool, command.connection_id)
        )
    except ConnectorConfigError as exc:
        await _finish(deps, command, total=0, failed_reason=str(exc))
        return
    try:
        await _push(command, deps, connection, config, client, bound)
    finally:
        THROTTLED_SECONDS.labels(connection.platform).inc(throttle.throttled_s)
        await client.aclose()


async def _push(
    command: PushCommand,
    deps: PushDependencies,
    connection: Connection,
    config: OutboundConfig,
    client: PlatformClient,
    bound: structlog.stdlib.BoundLogger,
) -> None:
    template_key = config.output_template_key
    template = await active_template(deps.pool, command.org_id, template_key) if template_key else None
    topics = await active_topics_for_push(deps.pool, command.org_id, command.topic_ids)
    deleted = (
        await ledger.topics_to_deactivate(deps.pool, command.connection_id, command.run_id)
        if command.topic_ids is None
        else []
    )
    plan = plan_push(
        run_id=command.run_id,
        connection_id=command.connection_id,
        topics=topics,
        deactivate=deleted,
        activations=await ledger.load_activations(deps.pool, command.connection_id),
        render=lambda topic: render(template, topic, currency=config.currency),
        default_cpm=config.default_cpm,
        currency=config.currency,
    )
    context = RunContext(
        run_id=command.run_id,
        org_id=command.org_id,
        currency=config.currency,
        data_source_location=config.data_source_location,
        attempt=command.attempt,
    )
    await deps.publisher.publish(
        [
            RunStarted(
                event_id=deterministic_event_id(command.run_id, "started"),
                run_id=command.run_id,
                org_id=command.org_id,
                total=len(plan),
            )
        ]
    )
    bound.info("push_run_started", total=len(plan), dry_run=command.dry_run)
    size = deps.settings.activation_batch_size
    concurrency = config.max_concurrency or deps.settings.push_concurrency_per_connection
    starts, finishes = _batch_starts(command, len(plan), size)
    auth_error, cancelled = await _push_batches(
        command,
        deps,
        connection,
        client,
        context,
        [(start, plan[start : start + size]) for start in starts],
        concurrency=concurrency,
        bound=bound,
    )
    if not finishes and not cancelled:
        bound.info("push_step_done", batch_index=command.batch_index)
        return
    if isinstance(client, ConfirmingPlatformClient) and not command.dry_run:
        await _confirm(deps, command, client, bound)
    reason = f"the platform refused the credentials: {auth_error.message}" if auth_error else None
    await _finish(deps, command, cancelled=cancelled, failed_reason=reason)
    bound.info("push_run_finished", cancelled=cancelled, auth_failed=auth_error is not None)


async def drain(
    in_flight: deque[asyncio.Task[PlatformError | None]], *, keep: int, refusal: PlatformError | None
) -> PlatformError | None:
    """Await the oldest batches until at most `keep` are in flight; returns the first refusal seen.

    Every popped task is awaited, whatever `refusal` already is (its ledger rows and events are written).
    """
    while len(in_flight) > keep:
        found = await in_flight.popleft()
        refusal = refusal or found
    return refusal


async def _push_batches(
    command: PushCommand,
    deps: PushDependencies,
    connection: Connection,
    client: PlatformClient,
    context: RunContext,
    batches: list[tuple[int, list[PlannedItem]]],
    *,
    concurrency: int,
    bound: structlog.stdlib.BoundLogger,
) -> tuple[PlatformError | None, bool]:
    """Push (offset, batch) pairs, at most PUSH_BATCHES_IN_FLIGHT at once; returns the auth refusal, if any,
    and whether the run was cancelled."""
    auth_error: PlatformError | None = None
    cancelled = False
    # Batches overlap (PUSH_BATCHES_IN_FLIGHT): the next one's calls take the slots the last one's tail
    # leaves idle while its ledger rows and events are written; the connection's concurrency still bounds
    # every call in flight.
    slots = CallSlots(concurrency)
    in_flight: deque[asyncio.Task[PlatformError | None]] = deque()

    async def push_batch(batch: list[PlannedItem]) -> PlatformError | None:
        result = await execute_batch(context, batch, client, concurrency=concurrency, slots=slots)
        # The ledger is durable before the events leave: a redelivery replays, never re-creates.
        await ledger.record_activations(
            deps.pool,
            org_id=command.org_id,
            connection_id=command.connection_id,
            run_id=command.run_id,
            writes=result.ledger,
        )
        await deps.publisher.publish(result.events)
        for event in result.events:
            ITEMS_PUSHED.labels(connection.platform, event.outcome.value).inc()
        return result.auth_error

    try:
        for start, batch in batches:
            auth_error = await drain(
                in_flight, keep=deps.settings.push_batches_in_flight - 1, refusal=auth_error
            )
            if deps.stopping.is_set():
                while in_flight:  # what is in flight ends with its ledger and events; the rest is handed over
                    await in_flight.popleft()
                bound.info("push_run_handed_over", next_item=start)
                raise ShutdownInterrupted
            await heartbeat(deps.pool, command.run_id)
            if await is_cancel_requested(deps.pool, command.run_id):
                cancelled = True
                break
            if command.dry_run:
                await deps.publisher.publish(plan_events(context, batch))
                continue
            refused = auth_error or slots.rejected
            if refused is not None:
                await deps.publisher.publish(abandoned_events(context, batch, refused))
                continue
            in_flight.append(asyncio.create_task(push_batch(batch)))
        auth_error = await drain(in_flight, keep=0, refusal=auth_error)
    finally:
        for task in in_flight:
            task.cancel()
        await asyncio.gather(*in_flight, return_exceptions=True)
    return auth_error or slots.rejected, cancelled


def _batch_starts(command: PushCommand, planned: int, size: int) -> tuple[list[int], bool]:
    """The batch offsets this command pushes, and whether the run ends with them (step runs: one batch)."""
    if command.batch_index is None:
        return list(range(0, planned, size)), True
    start = command.batch_index * size
    return ([start] if start < planned else []), start + size >= planned


async def _confirm(
    deps: PushDependencies,
    command: PushCommand,
    client: ConfirmingPlatformClient,
    bound: structlog.stdlib.BoundLogger,
) -> None:
    """Wait (bounded) for the platform to finish this run's writes and keep the outcome in the ledger."""
    pending = await ledger.pending_from_run(deps.pool, command.connection_id, command.run_id)
    if not pending:
        return
    try:
        confirmations = await client.confirm(list(pending))
    except PlatformError as exc:
        bound.warning("push_confirmation_failed", error_code=exc.code)
        return  # the activations stay pending; the next push asks again
    await ledger.record_confirmations(
        deps.pool,
        command.connection_id,
        {pending[segment_id]: (found.state, found.message) for segment_id, found in confirmations.items()},
    )
    bound.info(
        "push_confirmed",
        active=sum(1 for found in confirmations.values() if found.state == "active"),
        failed=sum(1 for found in confirmations.values() if found.state == "failed"),
        pending=sum(1 for found in confirmations.values() if found.state == "pending"),
    )
