"""Run history: GET /api/runs (and a connection's), a run's items as JSON pages and CSV, connection summaries."""

from __future__ import annotations

import asyncio
import csv
import io
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from typer.testing import CliRunner

from services.cli import app as cli_app
from services.status_recorder.persist import persist_events
from shared.db.orgs import create_org
from shared.db.runs import insert_run
from shared.db.sync_rejects import store_rejects
from shared.inbound.mapping import InvalidRecord
from shared.messages import ItemOutcome, ItemResult

pytestmark = pytest.mark.integration

CONNECTION = {
    "name": "history",
    "platform": "custom_api",
    "direction": "outbound",
    "authType": "none",
    "config": {"api_base_url": "http://127.0.0.1:9/custom", "default_cpm": 1, "currency": "USD"},
}
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


async def _connection(
    api: httpx.AsyncClient, pool: asyncpg.Pool[Any], name: str = "history"
) -> tuple[str, uuid.UUID]:
    """A connection of the caller's org, and that org's id (to write runs as the workers would)."""
    created = await api.post("/api/connections", json={**CONNECTION, "name": name})
    assert created.status_code == 201, created.text
    connection_id = created.json()["id"]
    org_id: uuid.UUID = await pool.fetchval(
        "SELECT org_id FROM platform_connections WHERE id = $1", connection_id
    )
    return connection_id, org_id


async def _run(
    pool: asyncpg.Pool[Any],
    org_id: uuid.UUID,
    connection_id: str,
    *,
    kind: str = "push",
    status: str = "queued",
    created_at: datetime | None = None,
    parent: uuid.UUID | None = None,
) -> uuid.UUID:
    async with pool.acquire() as connection, connection.transaction():
        run = await insert_run(
            connection,
            org_id=org_id,
            connection_id=uuid.UUID(connection_id),
            kind=kind,
            mode="auto",
            dry_run=False,
            total=0,
            request={},
            parent_run_id=parent,
        )
        finished = "now()" if status not in ("queued", "running") else "NULL"
        await connection.execute(
            f"UPDATE runs SET status = $2, created_at = COALESCE($3, created_at), finished_at = {finished} WHERE id = $1",
            run.id,
            status,
            created_at,
        )
    return run.id


async def _ids(api: httpx.AsyncClient, path: str, **params: Any) -> list[str]:
    answer = await api.get(path, params=params)
    assert answer.status_code == 200, answer.text
    return [run["runId"] for run in answer.json()["items"]]


async def test_filters_combine_newest_first_and_items_are_run_documents_without_errors(
    api: httpx.AsyncClient,
    pool: asyncpg.Pool[Any],
) -> None:
    first, org_id = await _connection(api, pool, "first")
    second, _ = await _connection(api, pool, "second")
    at = [T0 + timedelta(hours=hour) for hour in range(6)]
    ok = await _run(pool, org_id, first, status="succeeded", created_at=at[0])
    failed_early = await _run(pool, org_id, first, status="failed", created_at=at[1])
    partial = await _run(pool, org_id, first, status="partial", created_at=at[2])
    sync_failed = await _run(pool, org_id, first, kind="sync", status="failed", created_at=at[3])
    retry = await _run(pool, org_id, first, status="failed", created_at=at[4], parent=partial)
    other = await _run(pool, org_id, second, status="failed", created_at=at[5])
    ids = {
        name: str(run) for name, run in locals().items() if isinstance(run, uuid.UUID) and name != "org_id"
    }

    assert await _ids(api, "/api/runs") == [
        ids[n] for n in ("other", "retry", "sync_failed", "partial", "failed_early", "ok")
    ]
    assert await _ids(api, "/api/runs", connectionId=first, status="failed") == [
        ids["retry"], ids["sync_failed"], ids["failed_early"]
    ]  # fmt: skip
    assert await _ids(api, "/api/runs", connectionId=first, status="failed", kind="push") == [
        ids["retry"], ids["failed_early"]
    ]  # fmt: skip
    both = await api.get("/api/runs", params=[("status", "failed"), ("status", "partial"), ("kind", "push")])
    assert [run["runId"] for run in both.json()["items"]] == [
        ids[n] for n in ("other", "retry", "partial", "failed_early")
    ]
    window = {"since": at[1].isoformat(), "until": at[4].isoformat()}
    assert await _ids(api, "/api/runs", **window) == [ids["sync_failed"], ids["partial"], ids["failed_early"]]
    assert await _ids(api, "/api/runs", since="2025-03-01T16:00:00") == [ids["other"], ids["retry"]]  # UTC
    assert await _ids(api, "/api/runs", parentRunId=ids["partial"]) == [ids["retry"]]
    assert await _ids(api, f"/api/connections/{second}/runs") == [ids["other"]]
    assert await _ids(api, f"/api/connections/{first}/runs", status="failed", kind="sync") == [
        ids["sync_failed"]
    ]

    document = (await api.get("/api/runs", params={"connectionId": first, "kind": "sync"})).json()["items"][0]
    status = (await api.get(f"/api/runs/{ids['sync_failed']}")).json()
    assert "errors" not in document
    # A listed run is its status document without what only a single run's status reads.
    assert document == {key: value for key, value in status.items() if key not in ("errors", "pendingReview")}
    assert document["createdAt"].startswith("2025-03-01T15:00:00")

    refused = await api.get("/api/runs", params={"status": "exploded"})
    assert refused.status_code == 422
    assert (await api.get("/api/runs", params={"cursor": "not-a-cursor"})).status_code == 422


async def test_pages_never_skip_or_repeat_while_new_runs_are_written(
    api: httpx.AsyncClient, pool: asyncpg.Pool[Any]
) -> None:
    connection_id, org_id = await _connection(api, pool)
    # Runs of one transaction share created_at: only the id orders them.
    async with pool.acquire() as connection, connection.transaction():
        for _ in range(12):
            await insert_run(
                connection, org_id=org_id, connection_id=uuid.UUID(connection_id), kind="push",
                mode="auto", dry_run=False, total=0, request={},
            )  # fmt: skip
    for _ in range(30):
        await _run(pool, org_id, connection_id, status="failed")
    before = await _ids(api, "/api/runs", limit=1000)
    assert len(before) == 42

    stop = asyncio.Event()

    async def keep_writing() -> int:
        written = 0
        while not stop.is_set():
            await _run(pool, org_id, connection_id, status="failed")
            written += 1
            await asyncio.sleep(0.002)
        return written

    writer = asyncio.create_task(keep_writing())
    seen: list[str] = []
    page = (await api.get("/api/runs", params={"limit": 5})).json()
    seen += [run["runId"] for run in page["items"]]
    while page["nextCursor"]:
        await asyncio.sleep(0.01)  # let new runs land between pages
        page = (await api.get("/api/runs", params={"limit": 5, "cursor": page["nextCursor"]})).json()
        seen += [run["runId"] for run in page["items"]]
    stop.set()
    assert await writer > 5
    older = [run_id for run_id in seen if run_id in set(before)]
    assert older == before  # every run that existed, once, in order
    assert len(seen) == len(set(seen))


async def _topics(api: httpx.AsyncClient, count: int) -> list[str]:
    prefix = secrets.token_hex(3)
    topics = [{"name": f"Topic {index}", "externalId": f"{prefix}-{index}"} for index in range(count)]
    assert (await api.post("/api/topics/bulk", json={"topics": topics})).status_code == 200
    listed: list[dict[str, Any]] = []
    page: dict[str, Any] = {"nextCursor": None}
    while True:
        params = {"limit": 1000, **({"cursor": page["nextCursor"]} if page["nextCursor"] else {})}
        page = (await api.get("/api/topics", params=params)).json()
        listed += page["items"]
        if not page["nextCursor"]:
            by_index = {
                int(t["externalId"].rsplit("-", 1)[1]): t["id"]
                for t in listed
                if t["externalId"].startswith(prefix)
            }
            return [by_index[index] for index in range(count)]


def _result(run_id: uuid.UUID, org_id: uuid.UUID, topic_id: str, index: int) -> ItemResult:
    outcome = [ItemOutcome.CREATED, ItemOutcome.UPDATED, ItemOutcome.FAILED, ItemOutcome.SKIPPED][index % 4]
    failed = outcome is ItemOutcome.FAILED
    return ItemResult(
        event_id=uuid.uuid4(),
        run_id=run_id,
        org_id=org_id,
        item_id=topic_id,
        outcome=outcome,
        platform_segment_id=None if failed else f"seg-{index}",
        error_code="permanent:400" if failed else None,
        error_message='refused: "name", too long\nsee docs' if failed else None,
        attempt=3 if failed else 1,
    )


def _csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _as_csv(item: dict[str, Any]) -> dict[str, str]:
    return {key: "" if value is None else str(value) for key, value in item.items()}


async def _all_items(api: httpx.AsyncClient, run_id: uuid.UUID, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, "limit": 37, **({"cursor": cursor} if cursor else {})}
        page = (await api.get(f"/api/runs/{run_id}/items", params=query)).json()
        items += page["items"]
        if not (cursor := page["nextCursor"]):
            return items


async def test_items_pages_and_csv_agree_with_topic_external_id_segment_error_and_attempts(
    api: httpx.AsyncClient,
    pool: asyncpg.Pool[Any],
) -> None:
    connection_id, org_id = await _connection(api, pool)
    topic_ids = await _topics(api, 150)
    run_id = await _run(pool, org_id, connection_id, status="running")
    results = [_result(run_id, org_id, topic_id, index) for index, topic_id in enumerate(topic_ids)]
    await persist_events(pool, results, max_errors_stored=500)

    items = await _all_items(api, run_id)
    assert sorted(item["itemId"] for item in items) == sorted(topic_ids)
    assert [item["itemId"] for item in items] == sorted(item["itemId"] for item in items)
    failed = [item for item in items if item["outcome"] == "failed"]
    assert len(failed) == 37
    sample = failed[0]
    index = topic_ids.index(sample["itemId"])
    assert sample["topicId"] == sample["itemId"]
    assert sample["externalId"].endswith(f"-{index}")
    assert (sample["errorClass"], sample["errorCode"], sample["attempts"]) == (
        "permanent",
        "permanent:400",
        3,
    )
    assert sample["platformSegmentId"] is None
    created = next(item for item in items if item["outcome"] == "created")
    assert created["platformSegmentId"] == f"seg-{topic_ids.index(created['itemId'])}"

    assert await _all_items(api, run_id, outcome="failed") == failed
    csv_answer = await api.get(f"/api/runs/{run_id}/items", headers={"Accept": "text/csv"})
    assert csv_answer.headers["content-type"].startswith("text/csv")
    assert _csv_rows(csv_answer.text) == [_as_csv(item) for item in items]
    failed_csv = await api.get(
        f"/api/runs/{run_id}/items", params={"outcome": "failed"}, headers={"Accept": "text/csv"}
    )
    assert _csv_rows(failed_csv.text) == [_as_csv(item) for item in failed]
    both = await _all_items(api, run_id, outcome=["failed", "skipped"])
    assert {item["outcome"] for item in both} == {"failed", "skipped"}
    assert len(both) == 74


async def test_a_csv_cell_a_spreadsheet_would_run_as_a_formula_is_quoted(
    api: httpx.AsyncClient, pool: asyncpg.Pool[Any]
) -> None:
    connection_id, org_id = await _connection(api, pool)
    run_id = await _run(pool, org_id, connection_id, status="running")
    hostile = _result(run_id, org_id, str(uuid.uuid4()), 2).model_copy(
        update={"error_message": '=HYPERLINK("http://evil.example","x")'}
    )
    await persist_events(pool, [hostile], max_errors_stored=500)
    row = _csv_rows((await api.get(f"/api/runs/{run_id}/items", headers={"Accept": "text/csv"})).text)[0]
    assert row["errorMessage"] == "'" + hostile.error_message  # type: ignore[operator]
    assert (await api.get(f"/api/runs/{run_id}/items")).json()["items"][0][
        "errorMessage"
    ] == hostile.error_message


async def test_a_sync_runs_items_are_its_rejected_records(
    api: httpx.AsyncClient, pool: asyncpg.Pool[Any]
) -> None:
    connection_id, org_id = await _connection(api, pool)
    run_id = await _run(pool, org_id, connection_id, kind="sync", status="partial")
    rejects = [
        InvalidRecord(position=index, source_id=f"src-{index}", reason="name missing", payload={})
        for index in range(3)
    ]
    async with pool.acquire() as connection:
        await store_rejects(connection, run_id, page=2, rejects=rejects, payload_limit=1000, error_room=500)
    items = await _all_items(api, run_id)
    assert [(item["itemId"], item["externalId"], item["outcome"]) for item in items] == [
        ("2:0", "src-0", "invalid"), ("2:1", "src-1", "invalid"), ("2:2", "src-2", "invalid")
    ]  # fmt: skip
    assert items[0]["errorMessage"] == "name missing"
    assert await _all_items(api, run_id, outcome="inserted") == []


async def test_another_orgs_runs_are_404_and_never_listed(
    api: httpx.AsyncClient, pool: asyncpg.Pool[Any], gateway_url: str
) -> None:
    connection_id, org_id = await _connection(api, pool)
    run_id = await _run(pool, org_id, connection_id, status="failed")
    _other, stranger_key = await create_org(pool, f"stranger-{secrets.token_hex(3)}")
    async with httpx.AsyncClient(
        base_url=gateway_url, headers={"Authorization": f"Bearer {stranger_key}"}
    ) as stranger:
        assert (await stranger.get(f"/api/runs/{run_id}/items")).status_code == 404
        assert (
            await stranger.get(f"/api/runs/{run_id}/items", headers={"Accept": "text/csv"})
        ).status_code == 404
        assert (await stranger.get(f"/api/connections/{connection_id}/runs")).status_code == 404
        assert (await stranger.get("/api/runs")).json() == {"items": [], "nextCursor": None}
        assert (await stranger.get("/api/runs", params={"connectionId": connection_id})).json()["items"] == []
    assert (await api.get(f"/api/runs/{uuid.uuid4()}/items")).status_code == 404


async def test_connection_documents_carry_the_newest_run_and_the_last_success(
    api: httpx.AsyncClient, pool: asyncpg.Pool[Any]
) -> None:
    connection_id, org_id = await _connection(api, pool)
    fresh = (await api.get(f"/api/connections/{connection_id}")).json()
    assert (fresh["lastRun"], fresh["lastSuccessAt"]) == (None, None)
    succeeded = await _run(pool, org_id, connection_id, status="succeeded", created_at=T0)
    newest = await _run(
        pool, org_id, connection_id, kind="push", status="failed", created_at=T0 + timedelta(hours=1)
    )
    finished_ok = await pool.fetchval("SELECT finished_at FROM runs WHERE id = $1", succeeded)
    one = (await api.get(f"/api/connections/{connection_id}")).json()
    listed = next(c for c in (await api.get("/api/connections")).json() if c["id"] == connection_id)
    for document in (one, listed):
        assert document["lastRun"]["id"] == str(newest)
        assert (document["lastRun"]["kind"], document["lastRun"]["status"]) == ("push", "failed")
        assert document["lastRun"]["finishedAt"] is not None
        assert datetime.fromisoformat(document["lastSuccessAt"]) == finished_ok


async def test_cli_lists_runs_and_items_as_tables_and_csv(
    api: httpx.AsyncClient, pool: asyncpg.Pool[Any], gateway_url: str
) -> None:
    connection_id, org_id = await _connection(api, pool, "cli-history")
    topic_ids = await _topics(api, 8)
    ok = await _run(pool, org_id, connection_id, status="succeeded")
    failed = await _run(pool, org_id, connection_id, status="failed")
    await persist_events(
        pool, [_result(failed, org_id, t, i) for i, t in enumerate(topic_ids)], max_errors_stored=500
    )
    key = api.headers["Authorization"].removeprefix("Bearer ")
    env = {"ACTIVATOR_URL": gateway_url, "ACTIVATOR_API_KEY": key, "COLUMNS": "250"}

    async def cli(*args: str) -> str:
        result = await asyncio.to_thread(lambda: CliRunner().invoke(cli_app, list(args), env=env))
        assert result.exit_code == 0, result.output
        return result.output

    listed = await cli("runs", "list", "--connection", "cli-history", "--status", "failed", "--since", "1h")
    assert str(failed) in listed
    assert str(ok) not in listed
    table = await cli("runs", "items", str(failed), "--outcome", "failed")
    assert table.count("permanent:400") == 2
    exported = await cli("runs", "items", str(failed), "--csv")
    assert _csv_rows(exported) == [_as_csv(item) for item in await _all_items(api, failed)]
