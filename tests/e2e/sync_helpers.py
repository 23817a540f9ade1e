"""The mock DMP as an inbound source for end-to-end sync tests: its records, a connection, a run."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx

from services.mock_platforms.dmp_records import Record, generate_records
from tests.e2e.helpers import create_connection, wait_for_run

DMP_LISTING = "/dmp/api/v1/segments"
MAPPINGS = [
    {"source": "segment_name", "target": "topic_name"},
    {"source": "category.name", "target": "parent_category"},
    {"source": "description", "target": "description"},
    {"source": "price.cpm", "target": "cpm"},
    {"source": "attributes.country", "target": "attributes.country"},
    {"source": "attributes.reach", "target": "attributes.reach"},
]
CURSOR_PAGING = {
    "cursor_param": "cursor",
    "limit_param": "page_size",
    "page_size": 1000,
    "cursor_response_path": "paging.next_cursor",
}


def feed_records(count: int, *, decoys: int = 0, seed: int = 0) -> list[Record]:
    """`count` records of feed `main` and `decoys` of feed `archive` (which a `feed=main` filter leaves out)."""
    records = generate_records(count + decoys, seed=seed)
    for index, record in enumerate(records):
        record["feed"] = "main" if index < count else "archive"
    return records


async def set_records(mock: httpx.AsyncClient, records: list[Record]) -> None:
    """Replace the DMP's source data."""
    response = await mock.put("/admin/dmp/records", json={"records": records}, timeout=120)
    assert response.status_code == 200, response.text
    assert response.json() == {"total": len(records)}


def dmp_connection(mock_url: str, *, cursor: bool = False, **config: Any) -> dict[str, Any]:
    """An inbound ConnectionInput reading the mock DMP (offset paging unless `cursor`)."""
    listing = f"{mock_url}{DMP_LISTING}"
    body: dict[str, Any] = {
        "base_url": f"{listing}/cursor" if cursor else listing,
        "response_path": "data.items",
        "count_endpoint": f"{DMP_LISTING}/count",  # a path, resolved against base_url
        "count_response_path": "meta.0.total",
        "pagination_type": "cursor" if cursor else "offset",
        "pagination_params": CURSOR_PAGING
        if cursor
        else {"offset_param": "offset", "limit_param": "limit", "page_size": 1000},
        "field_mappings": MAPPINGS,
        "filters": {"feed": "main"},
        "extra_headers": {"X-Activator-Test": "sync"},
        "source_id_field": "segment_id",
    }
    body.update(config)
    return {
        "name": f"dmp {uuid.uuid4().hex[:6]}",
        "platform": "custom_api",
        "direction": "inbound",
        "authType": "none",
        "config": body,
    }


async def create_dmp_connection(api: httpx.AsyncClient, mock_url: str, **config: Any) -> str:
    """Create an inbound connection to the mock DMP; returns its id."""
    return await create_connection(api, dmp_connection(mock_url, **config))


async def start_sync(api: httpx.AsyncClient, connection_id: str, mode: str = "auto") -> str:
    """Start a sync run and return its id."""
    response = await api.post(f"/api/connections/{connection_id}/sync/run", json={"mode": mode})
    assert response.status_code == 202, response.text
    return str(response.json()["runId"])


async def sync_to_end(api: httpx.AsyncClient, connection_id: str, timeout: float = 240) -> dict[str, Any]:
    """Run one sync of the connection to its final status."""
    run_id = await start_sync(api, connection_id)
    return await wait_for_run(api, connection_id, run_id, kind="sync", timeout=timeout)


def figures(status: dict[str, Any]) -> dict[str, Any]:
    """The counters a sync run reports."""
    names = ("status", "total", "processed", "inserted", "updated", "unchanged", "invalid", "pages")
    return {name: status[name] for name in names}


async def connection_topics(pool: asyncpg.Pool[Any], connection_id: str, status: str = "active") -> int:
    """How many topics the connection's syncs wrote (from Postgres)."""
    count: int = await pool.fetchval(
        "SELECT count(*) FROM topics WHERE source_connection_id = $1 AND status = $2",
        uuid.UUID(connection_id),
        status,
    )
    return count
