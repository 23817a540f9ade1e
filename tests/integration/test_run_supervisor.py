"""Stuck runs: a run whose worker stopped heartbeating is redelivered, then failed with the reason."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from services.gateway.run_supervisor import RunSupervisor
from shared.settings import Settings
from tests.integration.test_connections_api import custom_api_connection

pytestmark = pytest.mark.integration


async def _stalled_run(api: httpx.AsyncClient, pool: asyncpg.Pool[Any]) -> uuid.UUID:
    # Two minutes: stalled for the tests' supervisors (60 s), not for the session gateway's own
    # background supervisor (STUCK_RUN_TIMEOUT_S 300), which would otherwise race them for the run.
    connection = (await api.post("/api/connections", json=custom_api_connection())).json()
    run_id: uuid.UUID = await pool.fetchval(
        """INSERT INTO runs (org_id, connection_id, kind, status, started_at, heartbeat_at, updated_at, created_at)
           SELECT org_id, id, 'push', 'running', now() - interval '2 minutes', now() - interval '2 minutes',
                  now() - interval '2 minutes', now() - interval '2 minutes'
           FROM platform_connections WHERE id = $1 RETURNING id""",
        uuid.UUID(connection["id"]),
    )
    return run_id


async def test_a_stalled_run_is_redelivered_then_failed(
    api: httpx.AsyncClient, pool: asyncpg.Pool[Any], settings: Settings
) -> None:
    supervisor_settings = settings.model_copy(
        update={"stuck_run_timeout_s": 60.0, "stuck_run_max_redeliveries": 2}
    )
    supervisor = RunSupervisor(pool, supervisor_settings)
    run_id = await _stalled_run(api, pool)

    await supervisor.sweep()
    commands = await pool.fetch("SELECT payload FROM outbox WHERE payload->>'run_id' = $1", str(run_id))
    assert [command["payload"]["attempt"] for command in commands] == [2]
    assert await pool.fetchval("SELECT status FROM runs WHERE id = $1", run_id) == "running"

    await supervisor.sweep()  # heartbeat restarted by the redelivery: nothing to do yet
    assert await pool.fetchval("SELECT redeliveries FROM runs WHERE id = $1", run_id) == 1

    await pool.execute(
        "UPDATE runs SET heartbeat_at = now() - interval '2 minutes', redeliveries = 2 WHERE id = $1", run_id
    )
    await supervisor.sweep()
    row = await pool.fetchrow("SELECT status, status_reason, finished_at FROM runs WHERE id = $1", run_id)
    assert row is not None
    assert row["status"] == "failed"
    assert "no worker took the run's command" in row["status_reason"]
    assert row["finished_at"] is not None


async def test_an_accepted_run_waiting_for_a_slice_is_not_stalled(
    api: httpx.AsyncClient, pool: asyncpg.Pool[Any], settings: Settings
) -> None:
    run_id = await _stalled_run(api, pool)
    await pool.execute("UPDATE runs SET accepted_at = now() - interval '1 hour' WHERE id = $1", run_id)
    await RunSupervisor(pool, settings.model_copy(update={"stuck_run_timeout_s": 60.0})).sweep()
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE payload->>'run_id' = $1", str(run_id)) == 0
    assert await pool.fetchval("SELECT status FROM runs WHERE id = $1", run_id) == "running"


async def test_a_run_with_a_recent_heartbeat_is_left_alone(
    api: httpx.AsyncClient, pool: asyncpg.Pool[Any], settings: Settings
) -> None:
    run_id = await _stalled_run(api, pool)
    await pool.execute("UPDATE runs SET heartbeat_at = now() WHERE id = $1", run_id)
    await RunSupervisor(pool, settings.model_copy(update={"stuck_run_timeout_s": 60.0})).sweep()
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE payload->>'run_id' = $1", str(run_id)) == 0
