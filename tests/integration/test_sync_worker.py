"""The sync-worker's handler in-process over real Postgres, reading the mock DMP through the shared HTTP layer."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import pytest
from prometheus_client import REGISTRY

from services.mock_platforms import MockState, build_app
from services.mock_platforms.dmp_records import DmpDataset, generate_records
from services.mock_platforms.faults import FaultSpec
from services.mock_platforms.platforms import Platform
from services.sync_worker.handler import SyncDependencies, handle_sync, work_sync_auto_slice
from shared.connectors import ConnectorDeps, HttpSettings
from shared.db.connections import Connection, ConnectionFields, create_connection
from shared.db.orgs import create_org
from shared.db.runs import insert_run, request_cancel
from shared.db.sync_runs import record_items
from shared.inbound.config import InboundConfig
from shared.inbound.pager import Pager, PagingLimits
from shared.inbound.source import InboundSource, build_inbound_source
from shared.messages import StatusEvent, SyncCommand, SyncPageRecorded, SyncStep
from shared.runs import step_leases
from shared.runs.executor import LeaseKeeper
from shared.settings import Settings

pytestmark = pytest.mark.integration

DMP = "http://127.0.0.1:9/dmp/api/v1"


class PublisherDown(Exception):
    """Stands for Kafka failing right after a page was committed (the worker dies before its ack)."""


@dataclass
class RecordingPublisher:
    events: list[StatusEvent] = field(default_factory=list)
    fail_after_pages: int | None = None

    async def publish(self, events: Sequence[StatusEvent]) -> None:
        pages = sum(isinstance(event, SyncPageRecorded) for event in [*self.events, *events])
        if self.fail_after_pages is not None and pages > self.fail_after_pages:
            self.fail_after_pages = None
            raise PublisherDown
        self.events.extend(events)

    async def send(self, events: Sequence[StatusEvent]) -> Awaitable[object]:
        acknowledged: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        try:
            await self.publish(events)
        except PublisherDown as exc:
            acknowledged.set_exception(exc)  # the broker refuses the send: its acknowledgement fails
        else:
            acknowledged.set_result(None)
        return acknowledged

    def pages(self) -> list[SyncPageRecorded]:
        return [event for event in self.events if isinstance(event, SyncPageRecorded)]


@dataclass
class World:
    pool: asyncpg.Pool[Any]
    settings: Settings
    mock: MockState
    publisher: RecordingPublisher
    deps: SyncDependencies
    org_id: uuid.UUID
    api_key: str


def dmp_config(**overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "base_url": f"{DMP}/segments",
        "response_path": "data.items",
        "count_endpoint": f"{DMP}/segments/count",
        "count_response_path": "meta.0.total",
        "pagination_type": "offset",
        "pagination_params": {"offset_param": "offset", "limit_param": "limit", "page_size": 100},
        "field_mappings": [
            {"source": "segment_name", "target": "topic_name"},
            {"source": "category.name", "target": "parent_category"},
            {"source": "description", "target": "description"},
            {"source": "price.cpm", "target": "cpm"},
            {"source": "attributes.country", "target": "attributes.country"},
        ],
        "source_id_field": "segment_id",
    }
    config.update(overrides)
    return config


@pytest.fixture
async def world(pool: asyncpg.Pool[Any], settings: Settings) -> World:
    mock = MockState()
    transport = httpx.ASGITransport(app=build_app(mock))
    publisher = RecordingPublisher()

    def source_factory(
        connection: Connection, config: InboundConfig, credentials: dict[str, str]
    ) -> InboundSource:
        return build_inbound_source(
            config,
            connection.auth_type,
            credentials,
            settings=HttpSettings(backoff_base_s=0),
            deps=ConnectorDeps(transport=transport),
            pager=Pager(config, PagingLimits(max_empty_pages=settings.sync_max_empty_pages)),
        )

    org_id, api_key = await create_org(pool, f"sync-{uuid.uuid4().hex[:6]}")
    deps = SyncDependencies(pool=pool, settings=settings, publisher=publisher, source_factory=source_factory)
    return World(pool, settings, mock, publisher, deps, org_id, api_key)


async def connection_for(world: World, **config: Any) -> uuid.UUID:
    connection = await create_connection(
        world.pool,
        world.org_id,
        ConnectionFields(
            name=f"dmp {uuid.uuid4().hex[:4]}",
            platform="custom_api",
            direction="inbound",
            auth_type="none",
            credentials=None,
            config=dmp_config(**config),
        ),
        encryption_key=world.settings.require_encryption_key(),
        limit=20,
    )
    return connection.id


async def sync(world: World, connection_id: uuid.UUID, *, mode: str = "auto") -> SyncCommand:
    async with world.pool.acquire() as connection:
        run = await insert_run(
            connection,
            org_id=world.org_id,
            connection_id=connection_id,
            kind="sync",
            mode=mode,
            dry_run=False,
            total=0,
            request={},
        )
    return SyncCommand(run_id=run.id, org_id=world.org_id, connection_id=connection_id)


async def drive(world: World, work: SyncCommand | SyncStep) -> None:
    """The worker as it runs: a command opens an auto run, then its slices are worked until it ends.

    A slice that raises gives its lease up here, as the lease's expiry would after a crash.
    """
    if not await handle_sync(work, world.deps):
        return
    ttl = world.settings.run_lease_ttl_s
    while (lease := await step_leases.claim_run(world.pool, work.run_id, "sync", ttl)) is not None:
        async with LeaseKeeper(world.pool, lease, ttl, "sync") as keeper:
            try:
                await work_sync_auto_slice(keeper, world.deps)
            finally:
                await keeper.release()


async def run_row(world: World, command: SyncCommand) -> asyncpg.Record:
    row: asyncpg.Record | None = await world.pool.fetchrow("SELECT * FROM runs WHERE id = $1", command.run_id)
    assert row is not None
    return row


def counters(row: asyncpg.Record) -> dict[str, Any]:
    names = (
        "status",
        "total",
        "processed",
        "inserted",
        "updated",
        "unchanged",
        "invalid",
        "skipped",
        "pages",
    )
    return {name: row[name] for name in names}


async def topics_of(world: World, connection_id: uuid.UUID, status: str = "active") -> int:
    count: int = await world.pool.fetchval(
        "SELECT count(*) FROM topics WHERE org_id = $1 AND source_connection_id = $2 AND status = $3",
        world.org_id,
        connection_id,
        status,
    )
    return count


async def test_a_full_sync_inserts_every_record_and_a_second_finds_them_unchanged(world: World) -> None:
    world.mock.dmp = DmpDataset(generate_records(1000, seed=1))
    connection_id = await connection_for(world)
    first = await sync(world, connection_id)
    await drive(world, first)
    assert counters(await run_row(world, first)) == {
        "status": "succeeded",
        "total": 1000,
        "processed": 1000,
        "inserted": 1000,
        "updated": 0,
        "unchanged": 0,
        "invalid": 0,
        "skipped": 0,
        "pages": 10,
    }
    topic = await world.pool.fetchrow(
        "SELECT name, path, parent_category, cpm, attributes FROM topics WHERE org_id = $1 AND external_id = $2",
        world.org_id,
        "dmp-0000001",
    )
    record = world.mock.dmp.records[0]
    assert topic is not None
    assert topic["name"] == record["segment_name"]
    assert topic["path"] == [record["category"]["name"], record["segment_name"]]
    assert topic["attributes"] == {"country": record["attributes"]["country"]}
    assert [page.page for page in world.publisher.pages()] == list(range(1, 11))
    assert world.publisher.pages()[-1].run_status == "succeeded"

    second = await sync(world, connection_id)
    await drive(world, second)
    row = await run_row(world, second)
    assert (row["status"], row["unchanged"], row["inserted"], row["updated"]) == ("succeeded", 1000, 0, 0)
    assert await topics_of(world, connection_id) == 1000


async def test_a_crash_after_a_committed_page_resumes_from_the_checkpoint(world: World) -> None:
    world.mock.dmp = DmpDataset(generate_records(950, seed=2))
    connection_id = await connection_for(world)
    command = await sync(world, connection_id)
    world.publisher.fail_after_pages = 3
    with pytest.raises(PublisherDown):
        await drive(world, command)  # page 4 is committed (with its batch), its event and the ack are lost
    assert 4 <= (await run_row(world, command))["pages"] < 10
    await drive(world, command)  # the redelivery
    await drive(world, command)  # and a late duplicate of it: a no-op on a final run
    assert counters(await run_row(world, command)) == {
        "status": "succeeded",
        "total": 950,
        "processed": 950,
        "inserted": 950,
        "updated": 0,
        "unchanged": 0,
        "invalid": 0,
        "skipped": 0,
        "pages": 10,
    }
    # count, 10 pages, recount - and again the pages fetched ahead but not committed before the crash
    # (at most `parallel_pages`), never a committed one
    assert world.mock.platforms[Platform.DMP].stats.requests - (1 + 10 + 1) in range(0, 8 + 1)
    items = await world.pool.fetch("SELECT outcome FROM run_items WHERE run_id = $1", command.run_id)
    assert [row["outcome"] for row in items] == ["inserted"] * 950  # each record listed once


async def test_invalid_records_are_kept_with_payload_page_and_reason(world: World) -> None:
    records = generate_records(10, seed=3)
    records[2]["segment_name"] = ""
    del records[7]["segment_id"]
    records[8]["price"] = {"cpm": -3}
    world.mock.dmp = DmpDataset(records)
    connection_id = await connection_for(world, pagination_params={"page_size": 4})
    command = await sync(world, connection_id)
    await drive(world, command)
    row = await run_row(world, command)
    # The record without a source id cannot be counted as seen: 9 distinct of 10.
    assert (row["status"], row["inserted"], row["invalid"], row["error_count"]) == ("incomplete", 7, 3, 3)
    assert row["status_reason"] == "the source reported 10 records but 9 distinct source ids were seen"
    rejects = await world.pool.fetch(
        "SELECT page, position, source_id, reason, payload FROM sync_rejects WHERE run_id = $1 ORDER BY id",
        command.run_id,
    )
    assert [(r["page"], r["position"], r["source_id"]) for r in rejects] == [
        (1, 2, "dmp-0000003"),
        (2, 3, None),
        (3, 0, "dmp-0000009"),
    ]
    assert rejects[0]["reason"] == "topic_name ('segment_name') is missing or empty"
    assert '"segment_name": ""' in rejects[0]["payload"]


async def test_a_complete_run_with_invalid_records_is_partial(world: World) -> None:
    records = generate_records(10, seed=4)
    records[5]["segment_name"] = None
    world.mock.dmp = DmpDataset(records)
    command = await sync(world, await connection_for(world))
    await drive(world, command)
    row = await run_row(world, command)
    assert (row["status"], row["status_reason"]) == ("partial", "1 invalid records kept as rejects")


async def test_soft_deletes_after_a_complete_full_sync_within_the_allowed_share(world: World) -> None:
    records = generate_records(100, seed=5)
    world.mock.dmp = DmpDataset(records)
    connection_id = await connection_for(world)
    await drive(world, await sync(world, connection_id))

    world.mock.dmp = DmpDataset(records[:90])  # 10 % gone: deleted
    second = await sync(world, connection_id)
    await drive(world, second)
    row = await run_row(world, second)
    assert (row["status"], row["status_reason"]) == (
        "succeeded",
        "10 topics no longer in the source marked deleted",
    )
    assert (await topics_of(world, connection_id), await topics_of(world, connection_id, "deleted")) == (
        90,
        10,
    )

    world.mock.dmp = DmpDataset(records[:60])  # a third of the rest gone: above 20 %, nothing deleted
    third = await sync(world, connection_id)
    await drive(world, third)
    row = await run_row(world, third)
    assert row["status"] == "succeeded"
    assert row["status_reason"].startswith("soft deletes skipped: 30 of the connection's 90 topics")
    assert await topics_of(world, connection_id) == 90

    world.mock.dmp = DmpDataset(records)  # the deleted ones come back
    fourth = await sync(world, connection_id)
    await drive(world, fourth)
    row = await run_row(world, fourth)
    assert (row["updated"], row["unchanged"]) == (10, 90)
    assert await topics_of(world, connection_id) == 100


async def test_incremental_runs_ask_from_the_mark_a_complete_run_reached(world: World) -> None:
    records = generate_records(300, seed=6)
    world.mock.dmp = DmpDataset(records)
    connection_id = await connection_for(
        world, sync_mode="incremental", incremental_field="updated_at", incremental_param="updated_since"
    )
    first = await sync(world, connection_id)
    await drive(world, first)
    assert (await run_row(world, first))["inserted"] == 300
    mark = await world.pool.fetchval(
        "SELECT high_water_mark FROM sync_state WHERE connection_id = $1", connection_id
    )
    assert mark == max(records, key=lambda r: r["updated_at"])["updated_at"]

    changed = [dict(record) for record in records]
    for index in range(0, 50):
        changed[index * 3] = {
            **changed[index * 3],
            "segment_name": f"Renamed {index}",
            "updated_at": "2025-06-01T00:00:00Z",
        }
    world.mock.dmp = DmpDataset(changed)
    second = await sync(world, connection_id)
    await drive(world, second)
    assert counters(await run_row(world, second)) == {
        "status": "succeeded",
        "total": 50,
        "processed": 50,
        "inserted": 0,
        "updated": 50,
        "unchanged": 0,
        "invalid": 0,
        "skipped": 0,
        "pages": 1,
    }
    assert await topics_of(world, connection_id) == 300


async def test_a_repeated_cursor_fails_the_run_with_that_reason(world: World) -> None:
    world.mock.dmp = DmpDataset(generate_records(500, seed=7))
    world.mock.platforms[Platform.DMP].faults.install(FaultSpec(repeat_cursor=True))
    cursor_config = {
        "base_url": f"{DMP}/segments/cursor",
        "pagination_type": "cursor",
        "pagination_params": {
            "cursor_param": "cursor",
            "limit_param": "page_size",
            "page_size": 100,
            "cursor_response_path": "paging.next_cursor",
        },
    }
    command = await sync(world, await connection_for(world, **cursor_config))
    await drive(world, command)
    row = await run_row(world, command)
    assert (row["status"], row["pages"]) == ("failed", 1)
    assert row["status_reason"].startswith("page 2 (cursor ")
    assert "the source returned a cursor it had already given" in row["status_reason"]


async def test_a_source_that_shrinks_mid_run_is_incomplete_with_both_figures(world: World) -> None:
    world.mock.dmp = DmpDataset(generate_records(1000, seed=8))
    world.mock.platforms[Platform.DMP].faults.install(FaultSpec(shrink_after_pages=3, shrink_by=100))
    command = await sync(world, await connection_for(world))
    await drive(world, command)
    row = await run_row(world, command)
    assert (row["status"], row["inserted"]) == ("incomplete", 900)
    assert row["status_reason"] == (
        "the source's total changed during the run: 1000 at the start, 900 at the end; 900 distinct source ids seen"
    )


async def test_a_missing_response_path_fails_the_run_naming_the_page(world: World) -> None:
    world.mock.dmp = DmpDataset(generate_records(10, seed=9))
    command = await sync(world, await connection_for(world, response_path="data.records"))
    await drive(world, command)
    row = await run_row(world, command)
    assert row["status"] == "failed"
    assert row["status_reason"] == (
        "page 1 (offset 0): response_path 'data.records' not found: no 'records' in data (an object)"
    )


async def test_a_page_of_invalid_json_fails_the_run_naming_the_page(world: World) -> None:
    world.mock.dmp = DmpDataset(generate_records(10, seed=10))
    world.mock.platforms[Platform.DMP].faults.install(FaultSpec(malformed_json=True))
    command = await sync(world, await connection_for(world, count_endpoint=None))
    await drive(world, command)
    row = await run_row(world, command)
    assert row["status"] == "failed"
    assert row["status_reason"].startswith("page 1 (offset 0): the body is not valid JSON")


async def test_step_mode_moves_one_page_per_step_and_cancel_keeps_the_checkpoint(world: World) -> None:
    world.mock.dmp = DmpDataset(generate_records(350, seed=11))
    connection_id = await connection_for(world)
    command = await sync(world, connection_id, mode="step")
    await drive(world, command)  # starts: counts, no page yet
    row = await run_row(world, command)
    assert (row["status"], row["total"], row["pages"]) == ("running", 350, 0)

    def step(after_page: int) -> SyncStep:
        return SyncStep(
            run_id=command.run_id, org_id=world.org_id, connection_id=connection_id, after_page=after_page
        )

    await drive(world, step(0))
    await drive(world, step(0))  # a repeated step is a no-op
    await drive(world, step(1))
    row = await run_row(world, command)
    assert (row["status"], row["pages"], row["inserted"]) == ("running", 2, 200)

    await request_cancel(world.pool, world.org_id, command.run_id)
    await drive(world, step(2))
    row = await run_row(world, command)
    assert (row["status"], row["pages"], row["inserted"]) == ("cancelled", 2, 200)
    assert row["checkpoint"]["offset"] == 200
    assert row["status_reason"] == "cancelled at a page boundary after 2 pages; checkpoint kept"


async def test_committed_records_are_counted_by_outcome_on_the_worker_metrics(world: World) -> None:
    def counted(outcome: str) -> float:
        return REGISTRY.get_sample_value("activator_sync_records_total", {"outcome": outcome}) or 0.0

    records = generate_records(30, seed=21)
    records[4]["segment_name"] = ""
    world.mock.dmp = DmpDataset(records)
    before = {outcome: counted(outcome) for outcome in ("inserted", "invalid", "unchanged")}
    connection_id = await connection_for(world)
    await drive(world, await sync(world, connection_id))
    await drive(world, await sync(world, connection_id))
    assert counted("inserted") - before["inserted"] == 29
    assert counted("invalid") - before["invalid"] == 2, "the invalid record is counted on each run"
    assert counted("unchanged") - before["unchanged"] == 29


async def _listed(
    api: httpx.AsyncClient, run_id: uuid.UUID, limit: int, **params: Any
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        answer = await api.get(f"/api/runs/{run_id}/items", params=query)
        assert answer.status_code == 200, answer.text
        items += answer.json()["items"]
        if not (cursor := answer.json()["nextCursor"]):
            return items


async def test_a_sync_lists_each_records_outcome_as_the_runs_items(world: World, gateway_url: str) -> None:
    records = generate_records(22, seed=22)
    world.mock.dmp = DmpDataset(records[:20])
    connection_id = await connection_for(world, pagination_params={"page_size": 4})
    await drive(world, await sync(world, connection_id))

    changed = [{**record, "segment_name": f"Renamed {index}"} for index, record in enumerate(records[:3])]
    invalid = {**records[0], "segment_id": "dmp-bad", "segment_name": ""}
    # 3 renamed, 15 as they were, 2 new, 1 invalid; the last 2 of the first run gone (10 %: deleted)
    world.mock.dmp = DmpDataset([*changed, *records[3:18], invalid, *records[20:]])
    second = await sync(world, connection_id)
    await drive(world, second)
    row = await run_row(world, second)
    assert (row["status"], row["inserted"], row["updated"], row["unchanged"], row["invalid"]) == (
        "partial", 2, 3, 15, 1
    )  # fmt: skip

    expected = {
        **{record["segment_id"]: "updated" for record in records[:3]},
        **{record["segment_id"]: "unchanged" for record in records[3:18]},
        **{record["segment_id"]: "deleted" for record in records[18:20]},
        **{record["segment_id"]: "inserted" for record in records[20:]},
        "dmp-bad": "invalid",
    }
    async with httpx.AsyncClient(
        base_url=gateway_url, headers={"Authorization": f"Bearer {world.api_key}"}, timeout=30
    ) as api:
        # 22 records then 1 reject: pages end inside the records, at their last one, and across both.
        for limit in (5, 11, 22, 100):
            items = await _listed(api, second.run_id, limit)
            assert len(items) == len(expected), limit  # none repeated
            assert {item["externalId"]: item["outcome"] for item in items} == expected, limit
        recorded = [item for item in items if item["outcome"] != "invalid"]
        assert [item["itemId"] for item in recorded] == sorted(item["topicId"] for item in recorded)
        assert (items[-1]["itemId"], items[-1]["errorCode"]) == (
            "5:2",
            "invalid_record",
        )  # page 5, 3rd record

        assert {item["externalId"] for item in await _listed(api, second.run_id, 2, outcome="updated")} == {
            record["segment_id"] for record in records[:3]
        }
        mixed = await _listed(api, second.run_id, 4, outcome=["inserted", "invalid"])
        assert [item["outcome"] for item in mixed] == ["inserted", "inserted", "invalid"]
        assert await _listed(api, second.run_id, 10, outcome="created") == []  # a push outcome

        csv_answer = await api.get(f"/api/runs/{second.run_id}/items", headers={"Accept": "text/csv"})
        rows = list(csv.DictReader(io.StringIO(csv_answer.text)))
        assert [(row["externalId"], row["outcome"]) for row in rows] == [
            (item["externalId"], item["outcome"]) for item in items
        ]
        deleted_csv = await api.get(
            f"/api/runs/{second.run_id}/items", params={"outcome": "deleted"}, headers={"Accept": "text/csv"}
        )
        assert sorted(row["externalId"] for row in csv.DictReader(io.StringIO(deleted_csv.text))) == [
            record["segment_id"] for record in records[18:20]
        ]


async def test_a_replayed_pages_records_are_listed_once_with_their_first_outcome(world: World) -> None:
    world.mock.dmp = DmpDataset(generate_records(8, seed=23))
    command = await sync(world, await connection_for(world))
    await drive(world, command)
    topic_ids = [row["id"] for row in await world.pool.fetch(
        "SELECT id FROM topics WHERE org_id = $1 ORDER BY id", world.org_id
    )]  # fmt: skip
    async with world.pool.acquire() as connection, connection.transaction():
        await record_items(
            connection,
            command.run_id,
            event_id=uuid.uuid4(),
            topic_ids=topic_ids,
            outcomes=["unchanged"] * len(topic_ids),
        )
    rows = await world.pool.fetch(
        "SELECT item_id, outcome FROM run_items WHERE run_id = $1 ORDER BY item_id", command.run_id
    )
    assert [(row["item_id"], row["outcome"]) for row in rows] == [(str(tid), "inserted") for tid in topic_ids]
