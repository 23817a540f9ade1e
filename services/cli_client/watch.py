"""Following a run: a live progress bar over its event stream, then tables of its outcomes and errors."""

from __future__ import annotations

import json
import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from services.cli_client.gateway_client import GatewayClient, GatewayError
from shared.runs.status import TERMINAL_STATUSES

RECONNECT_PAUSE_S = 1.0
MAX_RECONNECTS = 30


def _detail(run: dict[str, Any]) -> str:
    if run["kind"] == "sync":
        return (
            f"{run['status']}  page {run.get('pages') or 0}  inserted {run.get('inserted') or 0}"
            f"  updated {run.get('updated') or 0}  unchanged {run.get('unchanged') or 0}"
            f"  invalid {run.get('invalid') or 0}"
        )
    return f"{run['status']}  ok {run['succeeded']}  skipped {run['skipped']}  failed {run['failed']}"


def _follow(client: GatewayClient, run_id: str, progress: Progress, task: TaskID) -> dict[str, Any] | None:
    """Read the stream (reconnecting with Last-Event-ID) until `end`; the last snapshot seen."""
    last_id: str | None = None
    snapshot: dict[str, Any] | None = None
    reconnects = 0
    while True:
        try:
            for event in client.events(run_id, last_id):
                last_id = event.id
                if event.event == "run":
                    snapshot = json.loads(event.data)
                    progress.update(
                        task,
                        completed=snapshot["processed"],
                        total=max(snapshot["total"], snapshot["processed"], 1),
                        detail=_detail(snapshot),
                        description=snapshot["kind"],
                    )
                elif event.event == "end":
                    return snapshot
        except GatewayError as error:
            if error.status != 0 or reconnects >= MAX_RECONNECTS:
                raise
            reconnects += 1
            time.sleep(RECONNECT_PAUSE_S)
            continue
        # The server closed without `end` (its time limit), or said 204: everything was seen.
        if snapshot is not None and snapshot["status"] in TERMINAL_STATUSES:
            return snapshot
        if last_id is not None and client.call("GET", f"/api/runs/{run_id}")["status"] in TERMINAL_STATUSES:
            return snapshot


def watch_run(client: GatewayClient, run_id: str, out: Console) -> dict[str, Any]:
    """Show the run's progress live until it is final; returns the final status document."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=out) as progress:
        task = progress.add_task("run", total=None, detail="connecting")
        snapshot = _follow(client, run_id, progress, task)
    status: dict[str, Any] = client.call("GET", f"/api/runs/{run_id}")
    if snapshot is not None and "outcomes" in snapshot:
        status["outcomes"] = snapshot["outcomes"]
    return status


def render_run(status: dict[str, Any], out: Console, *, max_errors: int = 20) -> None:
    """A table of the run's counts (and outcomes), then its error records."""
    summary = Table(title=f"{status['kind']} run {status['runId']}", title_justify="left")
    columns = ["status", "total", "processed", "succeeded", "failed", "skipped", "errors"]
    values = [
        status["status"],
        *(str(status[key]) for key in ("total", "processed", "succeeded", "failed", "skipped")),
    ]
    values.append(str(status["errorCount"]))
    if status["kind"] == "sync":
        for key in ("pages", "inserted", "updated", "unchanged", "invalid"):
            columns.append(key)
            values.append(str(status.get(key) or 0))
    for column in columns:
        summary.add_column(column, justify="left" if column == "status" else "right")
    summary.add_row(*values)
    out.print(summary)
    if status.get("statusReason"):
        out.print(f"reason: {status['statusReason']}", soft_wrap=True, markup=False)
    outcomes: dict[str, int] = status.get("outcomes") or {}
    if outcomes:
        table = Table("outcome", "items", title="outcomes", title_justify="left")
        for outcome, count in sorted(outcomes.items()):
            table.add_row(outcome, str(count))
        out.print(table)
    errors: list[dict[str, Any]] = status.get("errors") or []
    if errors:
        table = Table("item", "code", "message", "attempt", title="errors", title_justify="left")
        for error in errors[:max_errors]:
            # Text, not markup: messages come from the platforms and may contain brackets.
            cells = (error["itemId"], error["code"], error["message"], error["attempt"])
            table.add_row(*(Text(str(cell)) for cell in cells))
        out.print(table)
        hidden = status["errorCount"] - min(len(errors), max_errors)
        if hidden > 0:
            out.print(f"… and {hidden} more error(s)")
