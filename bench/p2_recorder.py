"""P2 status recorder: status events pre-loaded on a topic of their own, persisted by a fresh status-recorder,
against the same kind of events inserted one row at a time."""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer

from bench.config import BenchConfig
from bench.harness import (
    Org,
    ScenarioFailed,
    median,
    new_custom_api_connection,
    new_org,
    rate,
    ratio,
)
from bench.procstats import cpu_seconds, cpu_since
from bench.world import World
from shared.db.runs import insert_run
from shared.messages import (
    ItemOutcome,
    ItemResult,
    RunFinished,
    RunStarted,
    StatusEvent,
    deterministic_event_id,
)
from shared.messaging.kafka import ensure_topics
from shared.messaging.kafka_security import client_options


def item_events(run_id: uuid.UUID, org_id: uuid.UUID, count: int) -> list[ItemResult]:
    """What a push-worker reports for a run of `count` topics: mostly created, one in a hundred failed."""
    events: list[ItemResult] = []
    for index in range(count):
        failed = index % 100 == 99
        events.append(
            ItemResult(
                event_id=deterministic_event_id(run_id, "item", index),
                run_id=run_id,
                org_id=org_id,
                item_id=str(uuid.uuid5(run_id, str(index))),
                outcome=ItemOutcome.FAILED if failed else ItemOutcome.CREATED,
                segment_name=f"Bench segment {index}",
                platform_segment_id=None if failed else f"seg-{index:07d}",
                error_code="permanent" if failed else None,
                error_message="HTTP 400: name rejected" if failed else None,
            )
        )
    return events


async def new_runs(world: World, org: Org, connection_id: str, runs: int, per_run: int) -> list[uuid.UUID]:
    """Queued push runs for the events to land in."""
    ids: list[uuid.UUID] = []
    async with world.pool.acquire() as connection:
        for _ in range(runs):
            run = await insert_run(
                connection,
                org_id=org.org_id,
                connection_id=uuid.UUID(connection_id),
                kind="push",
                mode="auto",
                dry_run=False,
                total=per_run,
                request={"bench": "p2"},
            )
            ids.append(run.id)
    return ids


async def preload(
    world: World, prefix: str, org_id: uuid.UUID, run_ids: list[uuid.UUID], per_run: int
) -> None:
    """Every run's start, items and end on `<prefix>.status`, keyed by run id as the workers publish them."""
    settings = world.settings_for(prefix)
    await ensure_topics(settings)
    producer = AIOKafkaProducer(**client_options(settings), linger_ms=20, max_batch_size=1 << 20, acks=1)
    await producer.start()
    try:
        for run_id in run_ids:
            events: list[StatusEvent] = [
                RunStarted(
                    event_id=deterministic_event_id(run_id, "started"),
                    run_id=run_id,
                    org_id=org_id,
                    total=per_run,
                ),
                *item_events(run_id, org_id, per_run),
                RunFinished(
                    event_id=deterministic_event_id(run_id, "finished"), run_id=run_id, org_id=org_id
                ),
            ]
            key = str(run_id).encode()
            deliveries = [
                await producer.send(settings.topic("status"), event.model_dump_json().encode(), key=key)
                for event in events
            ]
            await asyncio.gather(*deliveries)
    finally:
        await producer.stop()


async def persisted(pool: asyncpg.Pool[Any], run_ids: list[uuid.UUID]) -> int:
    """Items of the runs the recorder has persisted (counted on the runs, as the API shows them)."""
    value = await pool.fetchval("SELECT COALESCE(sum(processed), 0) FROM runs WHERE id = ANY($1)", run_ids)
    return int(value)


async def recorded_by_activator(
    world: World, org: Org, connection_id: str, config: BenchConfig, repetition: int
) -> tuple[float, float]:
    """Events/s a fresh status-recorder persists from a topic pre-loaded with them, and its CPU share meanwhile."""
    per_run = config.p2_events // config.p2_runs
    total = per_run * config.p2_runs
    run_ids = await new_runs(world, org, connection_id, config.p2_runs, per_run)
    prefix = f"p2{secrets.token_hex(3)}.activator"
    await preload(world, prefix, org.org_id, run_ids, per_run)
    name = f"status-recorder-p2-{repetition}"
    service = world.launch(name, ["status-recorder"], {**world.env, "KAFKA_TOPIC_PREFIX": prefix})
    assert service.process is not None
    pid = service.process.pid
    try:
        # From the first persisted batch on: the process's start and its group join are not the recorder's speed.
        first_count, first_at = 0, 0.0
        cpu_at_first: dict[str, float] = {}
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            count = await persisted(world.pool, run_ids)
            now = time.perf_counter()
            if count and not first_at:
                first_count, first_at = count, now
                cpu_at_first = cpu_seconds({name: pid})
            if count >= total:
                if first_count >= total:
                    raise ScenarioFailed(
                        "the recorder persisted every event before the first look: too few events"
                    )
                busy = cpu_since(cpu_at_first, {name: pid}).get(name, 0.0)
                return rate(total - first_count, now - first_at), round(busy / (now - first_at), 2)
            if service.process is not None and service.process.poll() is not None:
                raise ScenarioFailed(f"{name} exited:\n{service.log_tail()}")
            await asyncio.sleep(0.02)
        raise ScenarioFailed(
            f"{name} persisted {await persisted(world.pool, run_ids)}/{total} events in 600s"
        )
    finally:
        world.stop_service(name)


async def recorded_row_at_a_time(world: World, org: Org, connection_id: str, config: BenchConfig) -> float:
    """Events/s of the naive recorder: per event, one transaction inserting its row and moving its run's counters."""
    (run_id,) = await new_runs(world, org, connection_id, 1, config.p2_baseline_events)
    events = item_events(run_id, org.org_id, config.p2_baseline_events)
    async with world.pool.acquire() as connection:
        started = time.perf_counter()
        for item in events:
            async with connection.transaction():
                inserted = await connection.fetchval(
                    """INSERT INTO run_items (run_id, item_id, outcome, platform_segment_id, error_code, error_message,
                                              attempt, event_id, at, segment_name)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                       ON CONFLICT (run_id, item_id) DO NOTHING RETURNING 1""",
                    item.run_id,
                    item.item_id,
                    item.outcome.value,
                    item.platform_segment_id,
                    item.error_code,
                    item.error_message,
                    item.attempt,
                    item.event_id,
                    item.at,
                    item.segment_name,
                )
                if inserted:
                    failed = int(item.outcome is ItemOutcome.FAILED)
                    await connection.execute(
                        """UPDATE runs SET processed = processed + 1, succeeded = succeeded + $2, failed = failed + $3,
                               error_count = error_count + $3, updated_at = now() WHERE id = $1""",
                        run_id,
                        1 - failed,
                        failed,
                    )
        elapsed = time.perf_counter() - started
    return rate(len(events), elapsed)


async def run_p2(world: World, config: BenchConfig) -> dict[str, Any]:
    """P2 figures."""
    org = await new_org(world.pool, world.gateway_url)
    try:
        connection_id = await new_custom_api_connection(
            org.api, world.mock_url, max_concurrency=1, name="p2 runs"
        )
        activator: list[float] = []
        baseline: list[float] = []
        recorder_cpu: list[float] = []
        for repetition in range(config.repetitions):
            events_per_s, cpu_share = await recorded_by_activator(
                world, org, connection_id, config, repetition
            )
            activator.append(events_per_s)
            recorder_cpu.append(cpu_share)
            baseline.append(await recorded_row_at_a_time(world, org, connection_id, config))
    finally:
        await org.api.aclose()
    events = median(activator)
    return {
        "events_per_s": events,
        "baseline_events_per_s": median(baseline),
        "ratio": ratio(events, median(baseline)),
        "events": config.p2_events,
        "baseline_events": config.p2_baseline_events,
        "recorder_cpu_share": median(recorder_cpu),
        "repetitions": {"activator": activator, "baseline": baseline, "recorder_cpu_share": recorder_cpu},
    }
