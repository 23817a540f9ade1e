"""Automatic retries: a push run's retryable failures come back as a child run when due, backing off
until the chain's horizon; permanent failures are left to a person; the Retry button joins the chain."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from services.gateway.auto_retry import AutoRetry
from services.status_recorder.persist import persist_events
from shared.db.runs import get_run_by_id, insert_run
from shared.messages import ItemOutcome, ItemResult, RunFinished, RunStarted, StatusTopicEvent
from shared.runs.retries import RetryPolicy
from shared.settings import Settings
from tests.integration.test_connections_api import custom_api_connection

pytestmark = pytest.mark.integration

POLICY = RetryPolicy(horizon_s=3_600, first_delay_s=60)


async def _connection(api: httpx.AsyncClient, pool: asyncpg.Pool[Any]) -> tuple[uuid.UUID, uuid.UUID]:
    created = await api.post("/api/connections", json=custom_api_connection())
    assert created.status_code == 201, created.text
    connection_id = uuid.UUID(created.json()["id"])
    org_id: uuid.UUID = await pool.fetchval(
        "SELECT org_id FROM platform_connections WHERE id = $1", connection_id
    )
    return connection_id, org_id


async def _finished_push(
    pool: asyncpg.Pool[Any],
    org_id: uuid.UUID,
    connection_id: uuid.UUID,
    outcomes: dict[str, str | None],
    *,
    parent: uuid.UUID | None = None,
    policy: RetryPolicy = POLICY,
) -> uuid.UUID:
    """A push run closed by the recorder with one item per entry: error code (failed) or None (created)."""
    async with pool.acquire() as connection, connection.transaction():
        parent_run = None if parent is None else await get_run_by_id(connection, parent)
        run = await insert_run(
            connection,
            org_id=org_id,
            connection_id=connection_id,
            kind="push",
            mode="auto",
            dry_run=False,
            total=len(outcomes),
            request={"topicIds": list(outcomes)},
            parent_run_id=parent,
            retry_attempt=0 if parent_run is None else parent_run.retry_attempt + 1,
            retry_horizon_at=None if parent_run is None else parent_run.retry_horizon_at,
        )
    items = [
        ItemResult(
            event_id=uuid.uuid4(),
            run_id=run.id,
            org_id=org_id,
            item_id=item_id,
            outcome=ItemOutcome.CREATED if code is None else ItemOutcome.FAILED,
            error_code=code,
            error_message=None if code is None else f"the platform said {code}",
        )
        for item_id, code in outcomes.items()
    ]
    events: list[StatusTopicEvent] = [
        RunStarted(event_id=uuid.uuid4(), run_id=run.id, org_id=org_id, total=len(outcomes)),
        *items,
        RunFinished(event_id=uuid.uuid4(), run_id=run.id, org_id=org_id),
    ]
    await persist_events(pool, events, max_errors_stored=100, retries=policy)
    return run.id


async def _children(pool: asyncpg.Pool[Any], run_id: uuid.UUID) -> list[asyncpg.Record]:
    return list(
        await pool.fetch(
            "SELECT id, request, retry_attempt, retry_horizon_at FROM runs WHERE parent_run_id = $1", run_id
        )
    )


async def _make_due(pool: asyncpg.Pool[Any], run_id: uuid.UUID) -> None:
    await pool.execute("UPDATE runs SET retry_due_at = now() - interval '1 second' WHERE id = $1", run_id)


async def test_retryable_failures_are_retried_once_when_due_and_permanent_ones_are_not(
    api: httpx.AsyncClient, pool: asyncpg.Pool[Any], settings: Settings
) -> None:
    connection_id, org_id = await _connection(api, pool)
    timeout, throttled, refused, fine = (str(uuid.uuid4()) for _ in range(4))
    run_id = await _finished_push(
        pool,
        org_id,
        connection_id,
        {timeout: "retryable", throttled: "rate_limited:429", refused: "permanent:400", fine: None},
    )
    run = await get_run_by_id(pool, run_id)
    assert run is not None
    assert run.status == "partial"
    assert run.finished_at is not None
    assert run.retry_due_at == run.finished_at + timedelta(seconds=60)
    assert run.retry_horizon_at == run.finished_at + timedelta(seconds=3_600)
    shown = (await api.get(f"/api/runs/{run_id}")).json()
    assert shown["nextRetryAt"] is not None
    assert shown["retryAttempt"] == 0

    await _make_due(pool, run_id)
    # Two replicas' rounds at once (and the session gateway's own loop): the retry starts once.
    await asyncio.gather(AutoRetry(pool, settings).round(), AutoRetry(pool, settings).round())
    await AutoRetry(pool, settings).round()
    [child] = await _children(pool, run_id)
    assert sorted(child["request"]["topicIds"]) == sorted([timeout, throttled])
    assert child["request"]["automatic"] is True
    assert child["retry_attempt"] == 1
    assert child["retry_horizon_at"] == run.retry_horizon_at
    assert (
        await pool.fetchval("SELECT count(*) FROM outbox WHERE payload->>'run_id' = $1", str(child["id"]))
        == 1
    )
    after = await get_run_by_id(pool, run_id)
    assert after is not None
    assert after.retry_due_at is None
    assert after.retry_given_up_at is None


async def test_each_retry_waits_twice_as_long_until_the_horizon_then_the_chain_is_given_up(
    api: httpx.AsyncClient, pool: asyncpg.Pool[Any]
) -> None:
    connection_id, org_id = await _connection(api, pool)
    item = str(uuid.uuid4())
    policy = RetryPolicy(horizon_s=200, first_delay_s=60)  # retries due after 60 s, 120 s; 240 s is past
    first = await _finished_push(pool, org_id, connection_id, {item: "retryable:503"}, policy=policy)
    second = await _finished_push(
        pool, org_id, connection_id, {item: "retryable:503"}, parent=first, policy=policy
    )
    third = await _finished_push(
        pool, org_id, connection_id, {item: "retryable:503"}, parent=second, policy=policy
    )
    runs = [await get_run_by_id(pool, run_id) for run_id in (first, second, third)]
    one, two, three = runs
    assert one is not None
    assert two is not None
    assert three is not None
    assert one.finished_at is not None
    assert two.finished_at is not None
    assert one.retry_due_at == one.finished_at + timedelta(seconds=60)
    assert two.retry_due_at == two.finished_at + timedelta(seconds=120)
    assert two.retry_horizon_at == one.retry_horizon_at
    assert three.retry_due_at is None
    assert three.retry_given_up_at is not None  # 240 s after it passes the 200 s horizon
    shown = (await api.get(f"/api/runs/{third}")).json()
    assert shown["retryGivenUpAt"] is not None
    assert shown["nextRetryAt"] is None
    assert shown["retryAttempt"] == 2


async def test_a_disabled_connection_gives_the_chain_up_and_a_succeeded_run_is_never_due(
    api: httpx.AsyncClient, pool: asyncpg.Pool[Any], settings: Settings
) -> None:
    connection_id, org_id = await _connection(api, pool)
    clean = await _finished_push(pool, org_id, connection_id, {str(uuid.uuid4()): None})
    clean_run = await get_run_by_id(pool, clean)
    assert clean_run is not None
    assert clean_run.status == "succeeded"
    assert clean_run.retry_due_at is None
    failing = await _finished_push(pool, org_id, connection_id, {str(uuid.uuid4()): "retryable"})
    await pool.execute("UPDATE platform_connections SET enabled = false WHERE id = $1", connection_id)
    await _make_due(pool, failing)
    await AutoRetry(pool, settings).round()
    assert await _children(pool, failing) == []
    given_up = await get_run_by_id(pool, failing)
    assert given_up is not None
    assert given_up.retry_due_at is None
    assert given_up.retry_given_up_at is not None


async def test_the_retry_button_retries_every_failure_and_takes_the_automatic_retry_over(
    api: httpx.AsyncClient, pool: asyncpg.Pool[Any]
) -> None:
    connection_id, org_id = await _connection(api, pool)
    timeout, refused = str(uuid.uuid4()), str(uuid.uuid4())
    run_id = await _finished_push(
        pool, org_id, connection_id, {timeout: "retryable", refused: "permanent:422"}
    )
    answer = await api.post(f"/api/connections/{connection_id}/push/run/{run_id}/retry")
    assert answer.status_code == 202, answer.text
    assert answer.json()["total"] == 2
    [child] = await _children(pool, run_id)
    assert sorted(child["request"]["topicIds"]) == sorted([timeout, refused])
    assert child["retry_attempt"] == 1
    parent = await get_run_by_id(pool, run_id)
    assert parent is not None
    assert parent.retry_due_at is None  # the child carries the chain now
