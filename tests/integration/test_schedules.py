"""Schedules over real HTTP and Postgres: the API, and two schedulers (two replicas) on one database.

The schedulers here run on a test clock some days ahead, so the session gateway's own scheduler (on
the wall clock) never finds these slots due.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from services.gateway.scheduler import Scheduler
from shared.db.pool import create_pool
from shared.runs.schedules import slot_idempotency_key
from shared.settings import Settings
from tests.support.connections import outbound_custom_api

pytestmark = pytest.mark.integration

OUTBOUND = outbound_custom_api("scheduled")
MINUTE = timedelta(minutes=1)


class TestClock:
    """The time both schedulers see; a test moves it."""

    __test__ = False

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def t0() -> datetime:
    """A whole minute days ahead of the wall clock."""
    return (datetime.now(UTC) + timedelta(days=20)).replace(second=0, microsecond=0)


@pytest.fixture
async def replicas(settings: Settings, t0: datetime) -> AsyncIterator[tuple[TestClock, list[Scheduler]]]:
    """Two schedulers, each with a pool of its own as two gateway replicas have, on one clock."""
    clock = TestClock(t0)
    pools = [await create_pool(settings.database_url, max_size=3) for _ in range(2)]
    try:
        yield clock, [Scheduler(pool, settings, clock=clock) for pool in pools]
    finally:
        for pool in pools:
            await pool.close()


async def _connection(api: httpx.AsyncClient, **overrides: Any) -> str:
    created = await api.post("/api/connections", json={**OUTBOUND, **overrides})
    assert created.status_code == 201, created.text
    connection_id: str = created.json()["id"]
    return connection_id


async def _schedule(
    api: httpx.AsyncClient,
    pool: asyncpg.Pool[Any],
    connection_id: str,
    first_slot: datetime,
    kind: str = "push",
) -> dict[str, Any]:
    """A 1-minute schedule of `kind` whose next slot is `first_slot` (as if saved a while before it)."""
    saved = await api.put(f"/api/connections/{connection_id}/schedules/{kind}", json={"everyMinutes": 1})
    assert saved.status_code == 200, saved.text
    await pool.execute(
        "UPDATE connection_schedules SET next_run_at = $2 WHERE connection_id = $1 AND kind = $3",
        uuid.UUID(connection_id),
        first_slot,
        kind,
    )
    schedule: dict[str, Any] = (await api.get(f"/api/connections/{connection_id}/schedules/{kind}")).json()
    return schedule


def _at(shown: str) -> datetime:
    return datetime.fromisoformat(shown)


async def _runs(pool: asyncpg.Pool[Any], connection_id: str) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT id, kind, status, idempotency_key FROM runs WHERE connection_id = $1 ORDER BY created_at",
        uuid.UUID(connection_id),
    )


async def _finish_runs(pool: asyncpg.Pool[Any], connection_id: str) -> None:
    await pool.execute(
        "UPDATE runs SET status = 'succeeded', finished_at = now() WHERE connection_id = $1 AND finished_at IS NULL",
        uuid.UUID(connection_id),
    )


async def _schedule_id(pool: asyncpg.Pool[Any], connection_id: str) -> uuid.UUID:
    schedule_id: uuid.UUID = await pool.fetchval(
        "SELECT id FROM connection_schedules WHERE connection_id = $1", uuid.UUID(connection_id)
    )
    return schedule_id


async def test_two_schedulers_start_exactly_one_run_per_slot(
    api: httpx.AsyncClient,
    pool: asyncpg.Pool[Any],
    replicas: tuple[TestClock, list[Scheduler]],
    t0: datetime,
) -> None:
    clock, schedulers = replicas
    connection_id = await _connection(api)
    await _schedule(api, pool, connection_id, t0)
    schedule_id = await _schedule_id(pool, connection_id)
    clock.now = t0 - timedelta(seconds=1)
    await asyncio.gather(*(scheduler.round() for scheduler in schedulers))
    assert await _runs(pool, connection_id) == []  # not due yet

    for slot_index in range(5):
        slot = t0 + slot_index * MINUTE
        clock.now = slot + timedelta(seconds=2)
        # Both replicas' rounds at the same moment, twice each: the slot still gets one run.
        await asyncio.gather(*(scheduler.round() for scheduler in schedulers * 2))
        runs = await _runs(pool, connection_id)
        assert len(runs) == slot_index + 1
        assert runs[-1]["kind"] == "push"
        assert runs[-1]["idempotency_key"] == slot_idempotency_key(schedule_id, slot)
        shown = (await api.get(f"/api/connections/{connection_id}/schedules")).json()
        assert [_at(schedule["nextRunAt"]) for schedule in shown] == [slot + MINUTE]
        assert shown[0]["lastRunId"] == str(runs[-1]["id"])
        assert shown[0]["lastError"] is None
        await _finish_runs(pool, connection_id)


async def test_a_lapsed_claim_finds_the_slots_run_instead_of_starting_another(
    api: httpx.AsyncClient,
    pool: asyncpg.Pool[Any],
    replicas: tuple[TestClock, list[Scheduler]],
    t0: datetime,
) -> None:
    clock, (first, second) = replicas
    connection_id = await _connection(api)
    await _schedule(api, pool, connection_id, t0)
    clock.now = t0 + timedelta(seconds=1)
    [started] = [
        outcome for outcome in await first.round() if str(outcome.schedule.connection_id) == connection_id
    ]
    # As if `first` died after starting the run and before moving the schedule on: the slot is due again.
    await pool.execute(
        "UPDATE connection_schedules SET next_run_at = $2, claimed_until = NULL WHERE connection_id = $1",
        uuid.UUID(connection_id),
        t0,
    )
    [again] = [
        outcome for outcome in await second.round() if str(outcome.schedule.connection_id) == connection_id
    ]
    assert (again.outcome, again.run_id) == ("started", started.run_id)
    assert len(await _runs(pool, connection_id)) == 1


async def test_slots_missed_while_every_replica_was_down_run_once(
    api: httpx.AsyncClient,
    pool: asyncpg.Pool[Any],
    replicas: tuple[TestClock, list[Scheduler]],
    t0: datetime,
) -> None:
    clock, schedulers = replicas
    connection_id = await _connection(api)
    await _schedule(api, pool, connection_id, t0)
    clock.now = t0 + 10 * MINUTE + timedelta(seconds=30)  # eleven slots came and went while both were stopped
    await asyncio.gather(*(scheduler.round() for scheduler in schedulers))
    runs = await _runs(pool, connection_id)
    assert len(runs) == 1
    shown = (await api.get(f"/api/connections/{connection_id}/schedules/push")).json()
    assert _at(shown["lastSlotAt"]) == t0
    assert _at(shown["nextRunAt"]) == (t0 + 11 * MINUTE)  # the next slot from now, not the missed ones
    await asyncio.gather(*(scheduler.round() for scheduler in schedulers))
    assert len(await _runs(pool, connection_id)) == 1


async def test_a_slot_behind_an_unfinished_run_starts_nothing(
    api: httpx.AsyncClient,
    pool: asyncpg.Pool[Any],
    replicas: tuple[TestClock, list[Scheduler]],
    t0: datetime,
) -> None:
    clock, (scheduler, _other) = replicas
    connection_id = await _connection(api)
    await _schedule(api, pool, connection_id, t0)
    clock.now = t0 + timedelta(seconds=1)
    await scheduler.round()
    clock.now = t0 + MINUTE + timedelta(seconds=1)
    await scheduler.round()
    runs = await _runs(pool, connection_id)
    assert len(runs) == 1
    shown = (await api.get(f"/api/connections/{connection_id}/schedules/push")).json()
    assert str(runs[0]["id"]) in shown["lastError"]
    assert _at(shown["nextRunAt"]) == (t0 + 2 * MINUTE)


async def test_a_disabled_connections_schedule_starts_nothing_and_the_others_go_on(
    api: httpx.AsyncClient,
    pool: asyncpg.Pool[Any],
    replicas: tuple[TestClock, list[Scheduler]],
    t0: datetime,
) -> None:
    clock, schedulers = replicas
    disabled = await _connection(api, name="disabled")
    enabled = await _connection(api, name="enabled")
    for connection_id in (disabled, enabled):
        await _schedule(api, pool, connection_id, t0)
    updated = await api.put(
        f"/api/connections/{disabled}", json={**OUTBOUND, "name": "disabled", "enabled": False}
    )
    assert updated.status_code == 200, updated.text
    clock.now = t0 + timedelta(seconds=1)
    await asyncio.gather(*(scheduler.round() for scheduler in schedulers))
    assert await _runs(pool, disabled) == []
    assert len(await _runs(pool, enabled)) == 1
    shown = (await api.get(f"/api/connections/{disabled}/schedules/push")).json()
    assert "connection_disabled" in shown["lastError"]
    assert _at(shown["nextRunAt"]) == (t0 + MINUTE)


async def test_schedules_api_validates_naming_the_field_and_shows_the_next_run(
    api: httpx.AsyncClient, pool: asyncpg.Pool[Any]
) -> None:
    connection_id = await _connection(api)
    base = f"/api/connections/{connection_id}/schedules"
    for body, field in (
        ({"cron": "61 * * * *"}, "body.cron"),
        ({"cron": "0 0 0 * * *"}, "body.cron"),
        ({"cron": "0 9 * * *", "timeZone": "Mars/Olympus_Mons"}, "body.timeZone"),
        ({"everyMinutes": 0}, "body.everyMinutes"),
        ({"everyMinutes": 5, "cron": "*/5 * * * *"}, "body.everyMinutes"),
        ({}, "body.everyMinutes"),
    ):
        refused = await api.put(f"{base}/push", json=body)
        assert refused.status_code == 422, (body, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"
        assert [error["field"] for error in refused.json()["errors"]] == [field], body
    wrong_kind = await api.put(f"{base}/sync", json={"everyMinutes": 5})
    assert wrong_kind.status_code == 422
    assert wrong_kind.json()["errors"][0]["field"] == "path.kind"
    assert (await api.put(f"{base}/weekly", json={"everyMinutes": 5})).status_code == 422

    saved = await api.put(f"{base}/push", json={"cron": "30 9 * * *", "timeZone": "Europe/Berlin"})
    assert saved.status_code == 200, saved.text
    next_run = datetime.fromisoformat(saved.json()["nextRunAt"])
    assert next_run > datetime.now(UTC)
    berlin = next_run.astimezone(ZoneInfo("Europe/Berlin"))
    assert (berlin.hour, berlin.minute) == (9, 30)

    paused = await api.put(f"{base}/push", json={"everyMinutes": 15, "enabled": False})
    assert paused.json()["nextRunAt"] is None
    assert paused.json()["everyMinutes"] == 15
    assert paused.json()["cron"] is None

    other = await _connection(api, name="other")
    assert (await api.get(f"/api/connections/{other}/schedules")).json() == []
    assert (await api.delete(f"{base}/push")).status_code == 204
    assert (await api.get(f"{base}/push")).status_code == 404
    assert (await api.delete(f"{base}/push")).status_code == 404
    assert (await api.get(f"/api/connections/{uuid.uuid4()}/schedules")).status_code == 404


async def test_a_reconcile_schedule_starts_a_drift_report(
    api: httpx.AsyncClient,
    pool: asyncpg.Pool[Any],
    replicas: tuple[TestClock, list[Scheduler]],
    t0: datetime,
) -> None:
    clock, (scheduler, _other) = replicas
    connection_id = await _connection(api)
    await _schedule(api, pool, connection_id, t0, kind="reconcile")
    clock.now = t0 + timedelta(seconds=1)
    [outcome] = [o for o in await scheduler.round() if str(o.schedule.connection_id) == connection_id]
    run = await pool.fetchrow("SELECT kind, dry_run, request FROM runs WHERE id = $1", outcome.run_id)
    assert outcome.outcome == "started"
    assert run is not None
    assert (run["kind"], run["dry_run"], run["request"]["reconcile"]) == ("push", True, True)
