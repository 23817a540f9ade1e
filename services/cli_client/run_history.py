"""`activator runs list` and `activator runs items RUN`: run history and item results as tables or CSV."""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from services.cli_client.options import DEFAULT_URL, ApiKey, GatewayUrl, console, gateway

_AGO = re.compile(r"^(\d+)([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def parse_since(text: str) -> str:
    """An ISO 8601 time, or a span back from now (`30m`, `24h`, `7d`), as the API's `since`."""
    ago = _AGO.match(text.strip())
    if ago:
        moment = datetime.now(UTC) - timedelta(**{_UNITS[ago.group(2)]: int(ago.group(1))})
        return moment.isoformat()
    try:
        return datetime.fromisoformat(text).isoformat()
    except ValueError as exc:
        raise typer.BadParameter(
            "give an ISO 8601 time or a span such as 30m, 24h, 7d", param_hint="--since"
        ) from exc


def _more(next_cursor: str | None, shown: int) -> None:
    if next_cursor:
        console().print(f"… first {shown} shown; the next page: --cursor {next_cursor}", markup=False)


def list_runs(
    api_key: ApiKey,
    url: GatewayUrl = DEFAULT_URL,
    connection: Annotated[
        str | None, typer.Option("--connection", help="Connection id or exact name.")
    ] = None,
    status: Annotated[
        list[str] | None, typer.Option("--status", help="Only this status (repeatable).")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="ISO 8601 time or a span: 30m, 24h, 7d.")
    ] = None,
    kind: Annotated[str | None, typer.Option("--kind", help="push | sync")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="Runs to show.")] = 20,
    cursor: Annotated[str | None, typer.Option("--cursor", help="Continue after an earlier page.")] = None,
) -> None:
    """The org's runs, newest first."""
    params: dict[str, Any] = {"limit": limit, "status": status or []}
    if since is not None:
        params["since"] = parse_since(since)
    if kind is not None:
        params["kind"] = kind
    if cursor is not None:
        params["cursor"] = cursor
    with gateway(url, api_key) as client:
        if connection is not None:
            params["connectionId"] = client.connection_id(connection)
        page = client.call("GET", "/api/runs", params=params)
    table = Table(
        "run", "kind", "status", "connection", "created", "finished", "total", "processed", "failed"
    )
    for run in page["items"]:
        table.add_row(
            run["runId"],
            run["kind"],
            run["status"],
            run["connectionId"],
            run["createdAt"],
            run["finishedAt"] or "",
            str(run["total"]),
            str(run["processed"]),
            str(run["failed"]),
        )
    console().print(table)
    _more(page["nextCursor"], len(page["items"]))


def list_items(
    run: Annotated[str, typer.Argument(help="Run id.")],
    api_key: ApiKey,
    url: GatewayUrl = DEFAULT_URL,
    outcome: Annotated[
        list[str] | None, typer.Option("--outcome", help="Only this outcome (repeatable).")
    ] = None,
    as_csv: Annotated[
        bool, typer.Option("--csv", help="Every item as CSV on stdout (for spreadsheets).")
    ] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="Items to show in the table.")] = 100,
    cursor: Annotated[str | None, typer.Option("--cursor", help="Continue after an earlier page.")] = None,
) -> None:
    """Each item's result in a run: topic, external id, outcome, platform segment id, error, attempts."""
    params: dict[str, Any] = {"outcome": outcome or [], "limit": limit}
    if cursor is not None:
        params["cursor"] = cursor
    with gateway(url, api_key) as client:
        if as_csv:
            for chunk in client.stream_text(f"/api/runs/{run}/items", params=params, accept="text/csv"):
                sys.stdout.write(chunk)
            sys.stdout.flush()
            return
        page = client.call("GET", f"/api/runs/{run}/items", params=params)
    table = Table("item", "external id", "outcome", "segment id", "error", "attempts", "at")
    for item in page["items"]:
        error = f"{item['errorCode']}: {item['errorMessage']}" if item["errorCode"] else ""
        cells = (item["itemId"], item["externalId"], item["outcome"], item["platformSegmentId"], error)
        # Text, not markup: names and messages come from users and platforms.
        table.add_row(*(Text(cell or "") for cell in cells), str(item["attempts"]), item["at"])
    console().print(table)
    _more(page["nextCursor"], len(page["items"]))
