"""`make demo`: a demo connection and taxonomy on the running system, pushed with live progress."""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

CATEGORIES = ("Automotive", "Travel", "Finance", "Retail", "Health", "Sports", "Technology", "Home")
TOPIC_COUNT = int(os.environ.get("DEMO_TOPICS", "1000"))
FINAL = {"succeeded", "partial", "failed", "cancelled", "incomplete"}


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


def _watch(
    api: httpx.Client, console: Console, connection_id: str, run_id: str, total: int
) -> dict[str, Any]:
    columns = (TextColumn("push"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[detail]}"))
    with Progress(*columns, TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task("push", total=total or 1, detail="")
        while True:
            status: dict[str, Any] = api.get(
                f"/api/connections/{connection_id}/push/run/{run_id}/status"
            ).json()
            detail = f"ok {status['succeeded']}  skipped {status['skipped']}  failed {status['failed']}"
            progress.update(task, completed=status["processed"], total=status["total"] or 1, detail=detail)
            if status["status"] in FINAL:
                return status
            time.sleep(0.3)


def main() -> int:
    """Create the demo data, push it, print the outcome."""
    console = Console()
    port = os.environ.get("ACTIVATOR_GATEWAY_PORT", "8080")
    mock_url = f"http://127.0.0.1:{os.environ.get('ACTIVATOR_MOCK_PORT', '8090')}"
    headers = {"Authorization": f"Bearer {os.environ['ACTIVATOR_DEV_API_KEY']}"}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=60) as api:
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
    console.print("inbound sync is not part of the demo yet (issue 6).")
    return 0 if status["status"] == "succeeded" else 1


if __name__ == "__main__":
    sys.exit(main())
