"""`activator connections list | create | test`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from services.cli_client.options import DEFAULT_URL, ApiKey, GatewayUrl, console, gateway

app = typer.Typer(help="The org's platform connections.", no_args_is_help=True)


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise typer.BadParameter(f"{what} is not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise typer.BadParameter(f"{what} must be a JSON object")
    return value


@app.command("list")
def list_connections(api_key: ApiKey, url: GatewayUrl = DEFAULT_URL) -> None:
    """List the org's connections."""
    with gateway(url, api_key) as client:
        rows = client.call("GET", "/api/connections")
    table = Table("id", "name", "platform", "direction", "auth", "enabled", "credentials")
    for row in rows:
        table.add_row(
            row["id"],
            Text(row["name"]),
            row["platform"],
            row["direction"],
            row["authType"],
            "yes" if row["enabled"] else "no",
            "stored" if row["hasCredentials"] else "none",
        )
    console().print(table)


@app.command("create")
def create_connection(
    api_key: ApiKey,
    url: GatewayUrl = DEFAULT_URL,
    from_file: Annotated[
        Path | None,
        typer.Option("--from-file", help="A whole ConnectionInput as JSON (flags below override it)."),
    ] = None,
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    platform: Annotated[
        str | None, typer.Option(help="custom_api | indexexchange | liveramp | tradedesk")
    ] = None,
    direction: Annotated[str | None, typer.Option(help="inbound | outbound | bidirectional")] = None,
    auth_type: Annotated[str | None, typer.Option(help="oauth2 | bearer | api_key | header | none")] = None,
    config: Annotated[str | None, typer.Option(help="The config as a JSON object.")] = None,
    credentials_file: Annotated[
        Path | None,
        typer.Option(help="A JSON object of credentials (kept out of the command line and shell history)."),
    ] = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="Create it disabled.")] = False,
) -> None:
    """Create a connection; prints its id. Credentials are stored encrypted and never shown again."""
    body: dict[str, Any] = _json_object(from_file.read_text(), str(from_file)) if from_file else {}
    flags = {"name": name, "platform": platform, "direction": direction, "authType": auth_type}
    body.update({key: value for key, value in flags.items() if value is not None})
    if config is not None:
        body["config"] = _json_object(config, "--config")
    if credentials_file is not None:
        body["authCredentials"] = _json_object(credentials_file.read_text(), str(credentials_file))
    if disabled:
        body["enabled"] = False
    body.setdefault("config", {})
    with gateway(url, api_key) as client:
        created = client.call("POST", "/api/connections", json=body)
    console().print(
        f"created connection {created['id']} ({created['name']}, {created['platform']})", markup=False
    )


@app.command("test")
def check_connection(
    connection: Annotated[str, typer.Argument(help="Connection id or exact name.")],
    api_key: ApiKey,
    url: GatewayUrl = DEFAULT_URL,
) -> None:
    """Check that the platform accepts the connection's credentials (changes nothing); exit 1 if not."""
    with gateway(url, api_key) as client:
        result = client.call("POST", f"/api/connections/{client.connection_id(connection)}/test")
    if result["success"]:
        console().print("[green]ok[/green]: the platform accepted the connection")
        return
    console().print(
        Text.assemble(("failed", "red"), f": {result.get('error') or 'no reason given'}"), soft_wrap=True
    )
    raise typer.Exit(1)
