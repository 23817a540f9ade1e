"""The `activator` command: one entrypoint per service, plus operator commands."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import typer
import uvicorn

from services.cli_admin import dlq as dlq_commands
from services.cli_admin import keys as key_commands
from services.cli_admin import orgs as org_commands
from services.cli_admin.common import cli_settings
from services.cli_client import connections as connection_commands
from services.cli_client import runs as run_commands
from services.cli_client import topics as topic_commands
from shared.settings import ConfigurationError

app = typer.Typer(
    help="Activator: audience segments to ad platforms, taxonomies in from data APIs.", no_args_is_help=True
)
# Operator commands: they work on Postgres and Kafka directly (services/cli_admin/).
app.add_typer(org_commands.app, name="org")
app.add_typer(dlq_commands.app, name="dlq")
app.add_typer(key_commands.app, name="keys")
# Client commands: they talk to a running gateway over HTTP (services/cli_client/).
app.add_typer(connection_commands.app, name="connections")
app.add_typer(topic_commands.app, name="topics")
app.add_typer(run_commands.app, name="runs")
app.command("push")(run_commands.push)
app.command("sync")(run_commands.sync)


@contextlib.contextmanager
def _refusing_to_start(service: str) -> Iterator[None]:
    """A service whose configuration is unusable exits with status 2 and one clear line, no traceback.

    Also around a worker's run: Kafka refusing its credentials is found only once it connects.
    """
    try:
        yield
    except ConfigurationError as exc:
        typer.echo(f"activator {service}: refusing to start: {exc}", err=True)
        raise typer.Exit(2) from None


@app.command()
def migrate(
    wait: bool = typer.Option(
        False,
        "--wait",
        help="Apply nothing: wait until every migration has been applied (by another pod's `migrate`); exit 1 on timeout.",
    ),
    timeout: float = typer.Option(600.0, "--timeout", min=0, help="With --wait: seconds to wait at most."),
) -> None:
    """Apply pending database migrations (or, with --wait, wait for them: a pod's init container)."""
    from shared.db.migrate import apply_migrations

    settings = cli_settings()
    if wait:
        _wait_for_schema(settings.database_url, timeout)
        return
    applied = apply_migrations(settings.database_url)
    typer.echo(f"applied {len(applied)} migration(s)")


def _wait_for_schema(database_url: str, timeout: float) -> None:
    import time

    from shared.db.migrate import pending_migrations

    deadline = time.monotonic() + timeout
    while True:
        try:
            pending = pending_migrations(database_url)
            waiting_for = f"{len(pending)} pending migration(s): {', '.join(pending)}"
        except Exception as exc:  # the database is not up yet, or not reachable: keep waiting
            pending = None
            waiting_for = f"the database ({type(exc).__name__})"
        if pending == []:
            typer.echo("the schema is up to date")
            return
        if time.monotonic() >= deadline:
            typer.echo(
                f"activator migrate --wait: gave up after {timeout:.0f}s waiting for {waiting_for}", err=True
            )
            raise typer.Exit(1)
        time.sleep(2)


@app.command()
def gateway() -> None:
    """Run the HTTP gateway (and its outbox relay)."""
    from services.gateway.app import build_app

    settings = cli_settings()
    with _refusing_to_start("gateway"):
        application = build_app(settings)
    server = uvicorn.Server(
        uvicorn.Config(
            application,
            host=settings.activator_gateway_host,
            port=settings.activator_gateway_port,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=20,
        )
    )
    application.state.stop_server = lambda: setattr(server, "should_exit", True)
    server.run()
    # Kafka or Postgres refused the credentials after the server started: the gateway stopped itself.
    fatal = getattr(application.state, "startup", None) and application.state.startup.fatal
    if fatal:
        typer.echo(f"activator gateway: refusing to start: {fatal}", err=True)
        raise typer.Exit(2)
    if not server.started:
        raise typer.Exit(3)  # as uvicorn.run exits when the application did not start


@app.command("push-worker")
def push_worker() -> None:
    """Run a push-worker."""
    from services.push_worker.main import build_push_worker

    with _refusing_to_start("push-worker"):
        asyncio.run(build_push_worker(cli_settings()).run())


@app.command("sync-worker")
def sync_worker() -> None:
    """Run a sync-worker."""
    from services.sync_worker.main import build_sync_worker

    with _refusing_to_start("sync-worker"):
        asyncio.run(build_sync_worker(cli_settings()).run())


@app.command("status-recorder")
def status_recorder() -> None:
    """Run the status recorder."""
    from services.status_recorder.main import build_recorder

    with _refusing_to_start("status-recorder"):
        asyncio.run(build_recorder(cli_settings()).run())


@app.command()
def intake() -> None:
    """Run the intake: run requests from upstream services on activator.requests."""
    from services.intake.main import build_intake

    with _refusing_to_start("intake"):
        asyncio.run(build_intake(cli_settings()).run())


@app.command("mock-platforms")
def mock_platforms(
    host: str = "127.0.0.1",
    port: int = typer.Option(8090, envvar="ACTIVATOR_MOCK_PORT"),
    sftp_port: int = typer.Option(8022, envvar="ACTIVATOR_MOCK_SFTP_PORT"),
) -> None:
    """Run the mock ad platforms and DMP (demo, tests, benchmarks)."""
    from services.mock_platforms.app import serve

    cli_settings()
    asyncio.run(serve(host, port, sftp_port))


@app.command()
def asyncapi(
    output: str = typer.Option("docs/asyncapi.json", help="Where to write the document ('-' for stdout)."),
) -> None:
    """Write the AsyncAPI document of every Kafka channel, generated from the services' brokers."""
    from pathlib import Path

    from services.asyncapi import asyncapi_document, render

    text = render(asyncapi_document())
    if output == "-":
        typer.echo(text, nl=False)
    else:
        Path(output).write_text(text)
        typer.echo(f"wrote {output}")
