"""A Trade Desk data-rate batch sent by one worker is confirmed and reviewed by others: its BatchId is kept
with the ledger row (activations.pending_ref), so a replica whose clients never saw the batch asks TTD about
it. Real Postgres; the mock Trade Desk in-process, on a clock the test moves."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import pytest

from services.mock_platforms import MockState, build_app
from services.push_worker.execute import execute_batch
from services.push_worker.plan import Action, PlannedItem
from services.push_worker.review import ReviewPoller
from services.push_worker.run_setup import OpenedRun, PushDependencies, open_run
from shared.connectors import ConnectorDeps, HttpSettings, PlatformClient, create_platform_client
from shared.connectors.deps import SegmentLookup
from shared.connectors.throttle import ConnectionThrottle
from shared.db import activations as ledger
from shared.db.connections import Connection
from shared.db.runs import get_run
from shared.messages import ActivationReviewed, StatusEvent
from shared.settings import Settings

pytestmark = pytest.mark.integration

APPROVAL_S = 60.0  # the mock's wait for TTD's approval of a CPM under $5


class MockClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class RecordingPublisher:
    events: list[StatusEvent] = field(default_factory=list)

    async def publish(self, events: Sequence[StatusEvent]) -> None:
        self.events.extend(events)

    async def send(self, events: Sequence[StatusEvent]) -> Awaitable[object]:
        await self.publish(events)
        acknowledged: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        acknowledged.set_result(None)
        return acknowledged


def _worker(pool: asyncpg.Pool[Any], settings: Settings, mock: httpx.AsyncBaseTransport) -> PushDependencies:
    """A push-worker replica of its own: every client it builds is new, over the same mock Trade Desk."""

    def client_factory(
        connection: Connection,
        credentials: dict[str, str],
        throttle: ConnectionThrottle,
        lookup: SegmentLookup,
    ) -> PlatformClient:
        deps = ConnectorDeps(transport=mock, throttle=throttle, segment_lookup=lookup)
        return create_platform_client(
            connection.platform,
            connection.auth_type,
            credentials,
            connection.config,
            settings=HttpSettings(),
            deps=deps,
        )

    return PushDependencies(pool, settings, RecordingPublisher(), client_factory)


async def _run_with_topics(
    api: httpx.AsyncClient, pool: asyncpg.Pool[Any], cpms: dict[str, float]
) -> tuple[uuid.UUID, uuid.UUID, dict[str, uuid.UUID]]:
    body = {
        "name": "TTD across workers",
        "platform": "tradedesk",
        "direction": "outbound",
        "authType": "bearer",
        "authCredentials": {"api_key": "ttd-token-across-workers"},
        "config": {
            "api_base_url": "http://127.0.0.1:9/ttd",
            "provider_id": "acme",
            "brand_id": "acme-brand",
            "partner_id": "p-42",
            "default_cpm": 1.0,
            "currency": "USD",
            "confirm_timeout_s": 0,  # one look at the run's end
        },
    }
    created = await api.post("/api/connections", json=body)
    assert created.status_code == 201, created.text
    connection_id = uuid.UUID(created.json()["id"])
    org_id: uuid.UUID = await pool.fetchval(
        "SELECT org_id FROM platform_connections WHERE id = $1", connection_id
    )
    topics = {
        name: await pool.fetchval(
            "INSERT INTO topics (org_id, name) VALUES ($1, $2) RETURNING id", org_id, name
        )
        for name in cpms
    }
    run_id: uuid.UUID = await pool.fetchval(
        """INSERT INTO runs (org_id, connection_id, kind, status, mode, accepted_at)
           VALUES ($1, $2, 'push', 'running', 'auto', now()) RETURNING id""",
        org_id,
        connection_id,
    )
    return org_id, run_id, topics


async def _opened(deps: PushDependencies, org_id: uuid.UUID, run_id: uuid.UUID) -> OpenedRun:
    run = await get_run(deps.pool, org_id, run_id)
    assert run is not None
    opened = await open_run(deps, run)
    assert opened is not None
    return opened


def _creates(topics: dict[str, uuid.UUID], cpms: dict[str, float]) -> list[PlannedItem]:
    return [
        PlannedItem(
            topic_id=topic_id,
            action=Action.CREATE,
            name=name,
            description="",
            cpm=cpms[name],
            content_hash=f"h-{name}",
            platform_segment_id=None,
            external_key=f"act-{topic_id.hex}",
        )
        for name, topic_id in topics.items()
    ]


async def _states(pool: asyncpg.Pool[Any], run_id: uuid.UUID) -> dict[str, tuple[str, str | None]]:
    rows = await pool.fetch(
        """SELECT t.name, a.state, a.pending_ref FROM activations a JOIN topics t ON t.id = a.topic_id
           WHERE a.last_run_id = $1""",
        run_id,
    )
    return {row["name"]: (row["state"], row["pending_ref"]) for row in rows}


async def test_a_batch_sent_by_one_worker_is_confirmed_and_reviewed_by_others(
    api: httpx.AsyncClient, pool: asyncpg.Pool[Any], settings: Settings
) -> None:
    clock = MockClock()
    state = MockState(clock=clock)
    state.tradedesk.processing_delay_s = 0
    state.tradedesk.approval_delay_s = APPROVAL_S
    mock = httpx.ASGITransport(app=build_app(state))
    cpms = {"Sedans": 8.0, "Coupes": 1.0}  # Coupes' CPM waits for TTD's approval
    org_id, run_id, topics = await _run_with_topics(api, pool, cpms)

    # Replicas A and A2 (two lanes of the run) push a batch each and go away before the run's end.
    for name in cpms:
        pushing = await _opened(_worker(pool, settings, mock), org_id, run_id)
        items = _creates({name: topics[name]}, cpms)
        result = await execute_batch(pushing.context, items, pushing.client, concurrency=2)
        await pushing.record(result.ledger)
        await pushing.close()
    sedans_batch, coupes_batch = state.tradedesk.batches
    assert await _states(pool, run_id) == {
        "Sedans": ("pending", sedans_batch),
        "Coupes": ("pending", coupes_batch),
    }

    # Replica B ends the run: it sent nothing, and asks TTD about A's batch by the BatchId in the ledger.
    ending = await _opened(_worker(pool, settings, mock), org_id, run_id)
    await ending.confirm()
    await ending.close()
    assert (await _states(pool, run_id))["Coupes"][0] == "pending"  # still awaiting TTD's approval
    assert (await _states(pool, run_id))["Sedans"][0] == "active"

    # Replica C's review poller, after TTD approved it.
    clock.now += APPROVAL_S + 1
    await pool.execute("UPDATE activations SET next_review_at = NULL WHERE last_run_id = $1", run_id)
    announced: list[ActivationReviewed] = []

    async def announce(events: Sequence[ActivationReviewed]) -> None:
        announced.extend(events)

    await ReviewPoller(announce).round(_worker(pool, settings, mock))
    assert (await _states(pool, run_id))["Coupes"][0] == "active"
    assert [(event.topic_id, event.state) for event in announced if event.topic_id in topics.values()] == [
        (topics["Coupes"], "active")
    ]


async def test_a_pending_write_without_a_batch_id_is_not_taken_as_active(
    api: httpx.AsyncClient, pool: asyncpg.Pool[Any], settings: Settings
) -> None:
    state = MockState(clock=MockClock())
    mock = httpx.ASGITransport(app=build_app(state))
    org_id, run_id, topics = await _run_with_topics(api, pool, {"Vans": 8.0})
    # Recorded before the ledger kept BatchIds: nothing says whether its CPM went live.
    await ledger.record_activations(
        pool,
        org_id=org_id,
        connection_id=(await pool.fetchval("SELECT connection_id FROM runs WHERE id = $1", run_id)),
        run_id=run_id,
        writes=[ledger.ActivationWrite(topics["Vans"], "act-vans", "h", "pending", "created")],
    )
    ending = await _opened(_worker(pool, settings, mock), org_id, run_id)
    await ending.confirm()
    await ending.close()
    assert await _states(pool, run_id) == {"Vans": ("pending", None)}
    assert state.tradedesk.batches == {}


async def test_a_failed_write_keeps_the_batch_to_ask_about_and_a_later_write_replaces_it(
    api: httpx.AsyncClient, pool: asyncpg.Pool[Any]
) -> None:
    org_id, run_id, topics = await _run_with_topics(api, pool, {"Trucks": 8.0})
    connection_id: uuid.UUID = await pool.fetchval("SELECT connection_id FROM runs WHERE id = $1", run_id)
    topic_id = topics["Trucks"]

    async def write(state: str, outcome: str, ref: str | None) -> tuple[str, str | None]:
        await ledger.record_activations(
            pool,
            org_id=org_id,
            connection_id=connection_id,
            run_id=run_id,
            writes=[ledger.ActivationWrite(topic_id, "act-trucks", "h", state, outcome, pending_ref=ref)],
        )
        return (await _states(pool, run_id))["Trucks"]

    assert await write("pending", "created", "batch-1") == ("pending", "batch-1")
    # The next push's write failed: its CPM never went; batch-1 is still the one to ask about.
    assert await write("failed", "failed", None) == ("pending", "batch-1")
    assert await write("pending", "updated", "batch-2") == ("pending", "batch-2")
    # A write the platform finished at once (a deactivation) leaves nothing to ask about.
    assert await write("inactive", "deactivated", None) == ("inactive", None)
    assert await ledger.pending_from_run(pool, connection_id, run_id) == {}
