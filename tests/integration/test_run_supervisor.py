"""Stuck runs: a run whose worker stopped heartbeating is redelivered, then failed with the reason."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from services.gateway.run_supervisor import RunSupervisor
from shared.db.connections import ConnectionFields, create_connection
from shared.db.orgs import create_org
from shared.settings import Settings
from tests.support.infra import own_database_pool

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def quiet_pool(settings: Settings) -> AsyncIterator[asyncpg.Pool[Any]]:
    """A database of its own that no relay drains and no worker reads: a redelivered command stays
    untaken, as the supervisor's case needs (the session's database has live e2e workers on it)."""
    async with own_database_pool() as (_url, pool):
        yield pool


async def _stalled_run(pool: asyncpg.Pool[Any], settings: Settings) -> uuid.UUID:
    org_id, _key = await create_org(pool, f"stalled-{uuid.uuid4().hex[:6]}")
    connection = await create_connection(
        pool,
        org_id,
        ConnectionFields(
            name="Stalled",
            platform="custom_api",
            direction="outbound",
            auth_type="none",
            credentials=None,
            config={"api_base_url": "http://127.0.0.1:9/custom", "default_cpm": 2.5, "currency": "USD"},
        ),
        encryption_key=settings.require_encryption_key(),
        limit=settings.max_connections_per_org,
    )
    run_id: uuid.UUID = await pool.fetchval(
        """INSERT INTO runs (org_id, connection_id, kind, status, started_at, heartbeat_at, updated_at, created_at)
           SELECT org_id, id, 'push', 'running', now() - interval '1 hour', now() - interval '1 hour',
                  now() - interval '1 hour', now() - interval '1 hour'
           FROM platform_connections WHERE id = $1 RETURNING id""",
        connection.id,
    )
    return run_id


async def test_a_stalled_run_is_redelivered_then_failed(
    quiet_pool: asyncpg.Pool[Any], settings: Settings
) -> None:
    supervisor_settings = settings.model_copy(
        update={"stuck_run_timeout_s": 60.0, "stuck_run_max_redeliveries": 2}
    )
    supervisor = RunSupervisor(quiet_pool, supervisor_settings)
    run_id = await _stalled_run(quiet_pool, settings)

    await supervisor.round()
    commands = await quiet_pool.fetch("SELECT payload FROM outbox WHERE payload->>'run_id' = $1", str(run_id))
    assert [command["payload"]["attempt"] for command in commands] == [2]
    assert await quiet_pool.fetchval("SELECT status FROM runs WHERE id = $1", run_id) == "running"

    await supervisor.round()  # heartbeat restarted by the redelivery: nothing to do yet
    assert await quiet_pool.fetchval("SELECT redeliveries FROM runs WHERE id = $1", run_id) == 1

    await quiet_pool.execute(
        "UPDATE runs SET heartbeat_at = now() - interval '1 hour', redeliveries = 2 WHERE id = $1", run_id
    )
    await supervisor.round()
    row = await quiet_pool.fetchrow(
        "SELECT status, status_reason, finished_at FROM runs WHERE id = $1", run_id
    )
    assert row is not None
    assert row["status"] == "failed"
    assert "no worker took the run's command" in row["status_reason"]
    assert row["finished_at"] is not None


async def test_an_accepted_run_waiting_for_a_slice_is_not_stalled(
    quiet_pool: asyncpg.Pool[Any], settings: Settings
) -> None:
    run_id = await _stalled_run(quiet_pool, settings)
    await quiet_pool.execute("UPDATE runs SET accepted_at = now() - interval '1 hour' WHERE id = $1", run_id)
    await RunSupervisor(quiet_pool, settings.model_copy(update={"stuck_run_timeout_s": 60.0})).round()
    assert (
        await quiet_pool.fetchval("SELECT count(*) FROM outbox WHERE payload->>'run_id' = $1", str(run_id))
        == 0
    )
    assert await quiet_pool.fetchval("SELECT status FROM runs WHERE id = $1", run_id) == "running"


async def test_a_run_with_a_recent_heartbeat_is_left_alone(
    quiet_pool: asyncpg.Pool[Any], settings: Settings
) -> None:
    run_id = await _stalled_run(quiet_pool, settings)
    await quiet_pool.execute("UPDATE runs SET heartbeat_at = now() WHERE id = $1", run_id)
    await RunSupervisor(quiet_pool, settings.model_copy(update={"stuck_run_timeout_s": 60.0})).round()
    assert (
        await quiet_pool.fetchval("SELECT count(*) FROM outbox WHERE payload->>'run_id' = $1", str(run_id))
        == 0
    )
