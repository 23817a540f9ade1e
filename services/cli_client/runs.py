"""`activator push | sync CONNECTION`, `activator runs show | watch | link | items RUN` and `runs list`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from services.cli_client import run_history
from services.cli_client.gateway_client import GatewayClient
from services.cli_client.options import DEFAULT_URL, ApiKey, GatewayUrl, console, gateway
from services.cli_client.watch import render_run, watch_run

app = typer.Typer(help="Push and sync runs.", no_args_is_help=True)
app.command("list")(run_history.list_runs)
app.command("items")(run_history.list_items)

Watch = Annotated[
    bool, typer.Option("--watch", help="Follow the run live until it ends (exit 1 unless it succeeds).")
]
MaxErrors = Annotated[int, typer.Option("--errors", min=0, help="Error records to list at most.")]
Connection = Annotated[str, typer.Argument(help="Connection id or exact name.")]
RunId = Annotated[str, typer.Argument(help="Run id.")]


def _outcome(client: GatewayClient, run_id: str, *, watch: bool, max_errors: int) -> None:
    out = console()
    if not watch:
        return
    status = watch_run(client, run_id, out)
    render_run(status, out, max_errors=max_errors)
    if status["status"] != "succeeded":
        raise typer.Exit(1)


def _start(client: GatewayClient, kind: str, connection: str, body: dict[str, Any], key: str | None) -> str:
    connection_id = client.connection_id(connection)
    headers = {"Idempotency-Key": key} if key else {}
    accepted = client.call("POST", f"/api/connections/{connection_id}/{kind}/run", json=body, headers=headers)
    total = f": {accepted['total']} topic(s)" if kind == "push" else ""
    console().print(f"{kind} run {accepted['runId']} {accepted['status']}{total}")
    return str(accepted["runId"])


IdempotencyKey = Annotated[
    str | None, typer.Option("--idempotency-key", help="Repeat safely: the same key names the same run.")
]


def push(
    connection: Connection,
    api_key: ApiKey,
    url: GatewayUrl = DEFAULT_URL,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Plan only: record each action, write nothing.")
    ] = False,
    topic: Annotated[
        list[str] | None, typer.Option("--topic", help="Push only this topic id (repeatable).")
    ] = None,
    watch: Watch = False,
    idempotency_key: IdempotencyKey = None,
    max_errors: MaxErrors = 20,
) -> None:
    """Start a push run of the connection (every active topic, or --topic ones)."""
    body: dict[str, Any] = {"dryRun": dry_run}
    if topic:
        body["topicIds"] = topic
    with gateway(url, api_key) as client:
        run_id = _start(client, "push", connection, body, idempotency_key)
        _outcome(client, run_id, watch=watch, max_errors=max_errors)


def sync(
    connection: Connection,
    api_key: ApiKey,
    url: GatewayUrl = DEFAULT_URL,
    watch: Watch = False,
    idempotency_key: IdempotencyKey = None,
    max_errors: MaxErrors = 20,
) -> None:
    """Start a sync run: pull the connection's source taxonomy into topics."""
    with gateway(url, api_key) as client:
        run_id = _start(client, "sync", connection, {}, idempotency_key)
        _outcome(client, run_id, watch=watch, max_errors=max_errors)


@app.command("show")
def show(run: RunId, api_key: ApiKey, url: GatewayUrl = DEFAULT_URL, max_errors: MaxErrors = 20) -> None:
    """The run's status, counts and error records, now."""
    with gateway(url, api_key) as client:
        render_run(client.call("GET", f"/api/runs/{run}"), console(), max_errors=max_errors)


@app.command("watch")
def watch(run: RunId, api_key: ApiKey, url: GatewayUrl = DEFAULT_URL, max_errors: MaxErrors = 20) -> None:
    """Follow a run live (progress bar), then print its outcomes and errors; exit 1 unless it succeeded."""
    with gateway(url, api_key) as client:
        _outcome(client, run, watch=True, max_errors=max_errors)


@app.command("link")
def link(run: RunId, api_key: ApiKey, url: GatewayUrl = DEFAULT_URL) -> None:
    """A link to the run's live status page, valid for RUN_VIEW_TOKEN_TTL_S (share it only with who may see the run)."""
    with gateway(url, api_key) as client:
        minted = client.call("POST", f"/api/runs/{run}/view-token")
    console().print(f"{url.rstrip('/')}{minted['url']}", soft_wrap=True, markup=False)
    console().print(f"expires {minted['expiresAt']}")
