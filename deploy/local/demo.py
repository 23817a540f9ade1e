"""`make demo`: a taxonomy synced in from the mock DMP and pushed to a REST platform, with live progress."""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from shared.runs.status import TERMINAL_STATUSES

CATEGORIES = ("Automotive", "Travel", "Finance", "Retail", "Health", "Sports", "Technology", "Home")
TOPIC_COUNT = int(os.environ.get("DEMO_TOPICS", "1000"))
DMP_RECORDS = int(os.environ.get("DEMO_DMP_RECORDS", "3000"))
DMP_MAPPINGS = [
    {"source": "segment_name", "target": "topic_name"},
    {"source": "category.name", "target": "parent_category"},
    {"source": "description", "target": "description"},
    {"source": "price.cpm", "target": "cpm"},
    {"source": "attributes.country", "target": "attributes.country"},
]


def _taxonomy() -> list[dict[str, Any]]:
    return [
        {
            "name": f"{CATEGORIES[index % len(CATEGORIES)]} Intenders {index:04d}",
            "parentCategory": CATEGORIES[index % len(CATEGORIES)],
            "path": [CATEGORIES[index % len(CATEGORIES)], f"Intenders {index:04d}"],
            "description": f"Demo audience {index}",
            "externalId": f"demo-{index:05d}",
            "cpm": round(0.5 + (index % 20) * 0.25, 2),
        }
        for index in range(TOPIC_COUNT)
    ]


def _connection(api: httpx.Client, mock_url: str) -> str:
    for existing in api.get("/api/connections").raise_for_status().json():
        if existing["name"] == "Demo REST platform":
            return str(existing["id"])
    created = api.post(
        "/api/connections",
        json={
            "name": "Demo REST platform",
            "platform": "custom_api",
            "direction": "outbound",
            "authType": "api_key",
            "authCredentials": {"api_key": "demo-platform-key"},
            "config": {"api_base_url": f"{mock_url}/custom", "default_cpm": 1.0, "currency": "USD"},
        },
    )
    created.raise_for_status()
    return str(created.json()["id"])


def _dmp_connection(api: httpx.Client, mock_url: str) -> str:
    for existing in api.get("/api/connections").raise_for_status().json():
        if existing["name"] == "Demo DMP":
            return str(existing["id"])
    listing = f"{mock_url}/dmp/api/v1/segments"
    created = api.post(
        "/api/connections",
        json={
            "name": "Demo DMP",
            "platform": "custom_api",
            "direction": "inbound",
            "authType": "none",
            "config": {
                "base_url": listing,
                "response_path": "data.items",
                "count_endpoint": f"{listing}/count",
                "count_response_path": "meta.0.total",
                "pagination_type": "offset",
                "pagination_params": {"offset_param": "offset", "limit_param": "limit", "page_size": 500},
                "field_mappings": DMP_MAPPINGS,
                "source_id_field": "segment_id",
            },
        },
    )
    created.raise_for_status()
    return str(created.json()["id"])


def _detail(status: dict[str, Any]) -> str:
    if status["kind"] == "sync":
        return (
            f"page {status['pages']}  inserted {status['inserted']}  updated {status['updated']}"
            f"  unchanged {status['unchanged']}  invalid {status['invalid']}"
        )
    return f"ok {status['succeeded']}  skipped {status['skipped']}  failed {status['failed']}"


def _watch(
    api: httpx.Client, console: Console, connection_id: str, run_id: str, total: int, kind: str = "push"
) -> dict[str, Any]:
    columns = (TextColumn(kind), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[detail]}"))
    with Progress(*columns, TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task(kind, total=total or 1, detail="")
        while True:
            status: dict[str, Any] = api.get(
                f"/api/connections/{connection_id}/{kind}/run/{run_id}/status"
            ).json()
            detail = _detail(status)
            progress.update(task, completed=status["processed"], total=status["total"] or 1, detail=detail)
            if status["status"] in TERMINAL_STATUSES:
                return status
            time.sleep(0.3)


def main() -> int:
    """Create the demo data, push it, print the outcome."""
    console = Console()
    port = os.environ.get("ACTIVATOR_GATEWAY_PORT", "8080")
    mock_url = f"http://127.0.0.1:{os.environ.get('ACTIVATOR_MOCK_PORT', '8090')}"
    headers = {"Authorization": f"Bearer {os.environ['ACTIVATOR_DEV_API_KEY']}"}
    with httpx.Client(base_url=mock_url, timeout=60) as mock:
        mock.post("/admin/dmp/generate", json={"count": DMP_RECORDS, "seed": 1}).raise_for_status()
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=60) as api:
        dmp_id = _dmp_connection(api, mock_url)
        sync = api.post(f"/api/connections/{dmp_id}/sync/run", json={}).raise_for_status().json()
        synced = _watch(api, console, dmp_id, sync["runId"], DMP_RECORDS, kind="sync")
        console.print(
            f"sync {synced['status']}: {synced['total']} records, {synced['inserted']} inserted, "
            f"{synced['updated']} updated, {synced['unchanged']} unchanged, {synced['invalid']} invalid"
            + (f" ({synced['statusReason']})" if synced["statusReason"] else "")
        )
        connection_id = _connection(api, mock_url)
        counts = api.post("/api/topics/bulk", json={"topics": _taxonomy()}).raise_for_status().json()
        console.print(f"taxonomy: {counts['created']} topics created, {counts['updated']} updated")
        run = api.post(f"/api/connections/{connection_id}/push/run", json={}).raise_for_status().json()
        status = _watch(api, console, connection_id, run["runId"], run["total"])
    table = Table(title=f"push run {run['runId']}")
    for column in ("status", "total", "succeeded", "skipped", "failed", "errors"):
        table.add_column(column)
    table.add_row(
        status["status"],
        str(status["total"]),
        str(status["succeeded"]),
        str(status["skipped"]),
        str(status["failed"]),
        str(status["errorCount"]),
    )
    console.print(table)
    with httpx.Client(base_url=mock_url) as mock:
        stats = mock.get("/admin/stats/custom_api").json()
    console.print(f"segments held by the mock platform: {stats['segments']}")
    return 0 if status["status"] == "succeeded" and synced["status"] == "succeeded" else 1


if __name__ == "__main__":
    sys.exit(main())
