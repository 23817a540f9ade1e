"""The `activator` command: one entrypoint per service, plus operator commands."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import typer
import uvicorn

from services.cli_client import connections as connection_commands
from services.cli_client import runs as run_commands
from services.cli_client import topics as topic_commands
from shared.logging import configure_logging
from shared.settings import ConfigurationError, Settings, load_settings

if TYPE_CHECKING:
    from shared.db.connections import Reencrypted

app = typer.Typer(
    help="Activator: audience segments to ad platforms, taxonomies in from data APIs.", no_args_is_help=True
)
org_app = typer.Typer(help="Orgs and their API keys.", no_args_is_help=True)
key_app = typer.Typer(help="API keys of an org.", no_args_is_help=True)
dlq_app = typer.Typer(help="The dead-letter topic: messages that failed for good.", no_args_is_help=True)
app.add_typer(org_app, name="org")
keys_app = typer.Typer(help="The key that encrypts connection credentials.", no_args_is_help=True)
app.add_typer(dlq_app, name="dlq")
app.add_typer(keys_app, name="keys")
org_app.add_typer(key_app, name="key")
# Client commands: they talk to a running gateway over HTTP (services/cli_client/).
app.add_typer(connection_commands.app, name="connections")
app.add_typer(topic_commands.app, name="topics")
app.add_typer(run_commands.app, name="runs")
app.command("push")(run_commands.push)
app.command("sync")(run_commands.sync)


def _settings() -> Settings:
    settings = load_settings()
    configure_logging(settings.activator_log_level, settings.activator_log_format)
    return settings


@contextlib.contextmanager
def _refusing_to_start(service: str) -> Iterator[None]:
    """A service whose configuration is unusable exits with status 2 and one clear line, no traceback."""
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
        help="Apply nothing: wait until every migration has been applied (by the migrate Job); exit 1 on timeout.",
    ),
    timeout: float = typer.Option(600.0, "--timeout", min=0, help="With --wait: seconds to wait at most."),
) -> None:
    """Apply pending database migrations (or, with --wait, wait for them: a pod's init container)."""
    from shared.db.migrate import apply_migrations

    settings = _settings()
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

    settings = _settings()
    with _refusing_to_start("gateway"):
        application = build_app(settings)
    uvicorn.run(
        application,
        host=settings.activator_gateway_host,
        port=settings.activator_gateway_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=20,
    )


@app.command("push-worker")
def push_worker() -> None:
    """Run a push-worker."""
    from services.push_worker.main import build_push_worker

    with _refusing_to_start("push-worker"):
        worker = build_push_worker(_settings())
    asyncio.run(worker.run())


@app.command("sync-worker")
def sync_worker() -> None:
    """Run a sync-worker."""
    from services.sync_worker.main import build_sync_worker

    with _refusing_to_start("sync-worker"):
        worker = build_sync_worker(_settings())
    asyncio.run(worker.run())


@app.command("status-recorder")
def status_recorder() -> None:
    """Run the status recorder."""
    from services.status_recorder.main import build_recorder

    asyncio.run(build_recorder(_settings()).run())


@app.command()
def intake() -> None:
    """Run the intake: run requests from upstream services on activator.requests."""
    from services.intake.main import build_intake

    asyncio.run(build_intake(_settings()).run())


@app.command("mock-platforms")
def mock_platforms(
    host: str = "127.0.0.1",
    port: int = typer.Option(8090, envvar="ACTIVATOR_MOCK_PORT"),
    sftp_port: int = typer.Option(8022, envvar="ACTIVATOR_MOCK_SFTP_PORT"),
) -> None:
    """Run the mock ad platforms and DMP (demo, tests, benchmarks)."""
    from services.mock_platforms.app import serve

    _settings()
    asyncio.run(serve(host, port, sftp_port))


async def _with_pool(
    settings: Settings, action: str, name: str | None, org_id: uuid.UUID | None, *, all_keys: bool = False
) -> str:
    from shared.db import orgs
    from shared.db.pool import create_pool

    pool = await create_pool(settings.database_url, max_size=2)
    try:
        if action == "create":
            assert name is not None
            new_org, api_key = await orgs.create_org(pool, name)
            return f"org_id={new_org}\napi_key={api_key}"
        assert org_id is not None
        if action == "rotate":
            api_key = orgs.new_api_key()
            await orgs.add_api_key(pool, org_id, api_key)
            return f"api_key={api_key}\n(the old keys keep working until `activator org key revoke`)"
        revoked = await orgs.revoke_api_keys(pool, org_id, keep_newest=not all_keys)
        left = await orgs.live_key_prefixes(pool, org_id)
        kept = f"; the newest key ({left[0]}…) still works" if left else "; the org has no live key left"
        return f"revoked {revoked} key(s){kept}"
    finally:
        await pool.close()


@org_app.command("create")
def org_create(name: str = typer.Option(..., "--name", help="The org's display name.")) -> None:
    """Create an org and print its id and a new API key (shown once)."""
    typer.echo(asyncio.run(_with_pool(_settings(), "create", name, None)))


@key_app.command("rotate")
def key_rotate(org: uuid.UUID = typer.Option(..., "--org")) -> None:
    """Add a new key to an org; the old ones keep working until revoked."""
    typer.echo(asyncio.run(_with_pool(_settings(), "rotate", None, org)))


@key_app.command("revoke")
def key_revoke(
    org: uuid.UUID = typer.Option(..., "--org"),
    all_keys: bool = typer.Option(False, "--all", help="Revoke the newest key too (locks the org out)."),
) -> None:
    """Revoke the org's old keys, keeping the newest (after `rotate`); `--all` revokes every key."""
    typer.echo(asyncio.run(_with_pool(_settings(), "revoke", None, org, all_keys=all_keys)))


@dlq_app.command("list")
def dlq_list(limit: int = typer.Option(100, help="At most this many messages.")) -> None:
    """List dead-lettered messages with their error and attempts."""
    from shared.messaging.dlq import read_dead_letters

    letters = asyncio.run(read_dead_letters(_settings(), limit))
    for letter in letters:
        typer.echo(
            f"{letter.partition}:{letter.offset}  {letter.failed_at}  {letter.source_topic}  "
            f"attempts={letter.attempts}  {letter.error_type}: {' '.join(letter.error.split())[:160]}"
        )
    typer.echo(f"{len(letters)} dead letter(s)")


async def _reencrypt(settings: Settings, old_key: str, new_key: str, *, dry_run: bool) -> Reencrypted:
    from shared.db.connections import reencrypt_credentials
    from shared.db.pool import create_pool

    pool = await create_pool(settings.database_url, max_size=1)
    try:
        return await reencrypt_credentials(pool, old_key, new_key, dry_run=dry_run)
    finally:
        await pool.close()


def _rotation_keys(settings: Settings, new_key_env: str | None) -> tuple[str, str, str]:
    """(old key, new key, what to call the new key), or a refusal message as typer.BadParameter."""
    from shared.settings import encryption_key_problem

    current = settings.credentials_encryption_key.get_secret_value()
    if new_key_env is None:
        # Online: the services already run with the new key current and the old one as previous.
        previous = settings.previous_encryption_keys()
        if not previous:
            raise typer.BadParameter(
                "CREDENTIALS_ENCRYPTION_KEY_PREVIOUS is not set (or equals the current key): set it to the key "
                "being rotated away from, or pass --new-key-env"
            )
        if problem := encryption_key_problem(current):
            raise typer.BadParameter(f"CREDENTIALS_ENCRYPTION_KEY (the new key) {problem}")
        return previous[0], current, "CREDENTIALS_ENCRYPTION_KEY"
    new_key = os.environ.get(new_key_env, "")
    if not current.strip():
        raise typer.BadParameter("CREDENTIALS_ENCRYPTION_KEY (the current key) is not set")
    if problem := encryption_key_problem(new_key):
        raise typer.BadParameter(f"{new_key_env} {problem}")
    if new_key == current:
        raise typer.BadParameter(f"{new_key_env} holds the current key")
    return current, new_key, new_key_env


@keys_app.command("rotate-credentials")
def rotate_credentials(
    new_key_env: str | None = typer.Option(
        None,
        "--new-key-env",
        help=(
            "Offline rotation: the environment variable holding the new key (not the key: argv shows in "
            "process lists); the old key is CREDENTIALS_ENCRYPTION_KEY. Without it: from "
            "CREDENTIALS_ENCRYPTION_KEY_PREVIOUS to CREDENTIALS_ENCRYPTION_KEY (services keep running)."
        ),
    ),
    dry_run: bool = typer.Option(
        False,
        "--dry-run",
        help="Check that every credential decrypts with the old or new key; change nothing.",
    ),
) -> None:
    """Re-encrypt every connection's credentials from the old key to the new one, in one transaction."""
    from shared.db.connections import CredentialsKeyMismatch

    command = "activator keys rotate-credentials"
    settings = _settings()
    try:
        old_key, new_key, new_name = _rotation_keys(settings, new_key_env)
    except typer.BadParameter as exc:
        typer.echo(f"{command}: {exc}; nothing was changed", err=True)
        raise typer.Exit(2) from None
    try:
        done = asyncio.run(_reencrypt(settings, old_key, new_key, dry_run=dry_run))
    except CredentialsKeyMismatch as exc:
        typer.echo(f"{command}: {exc}; nothing was changed", err=True)
        raise typer.Exit(1) from None
    already = f" ({done.already} already under the new key)" if done.already else ""
    if dry_run:
        typer.echo(
            f"dry run: the credentials of {done.moved} connection(s) decrypt with the old key{already}; "
            "nothing changed"
        )
        return
    typer.echo(
        f"re-encrypted the credentials of {done.moved} connection(s) with the key in {new_name}{already}"
    )
    if new_key_env is not None:
        typer.echo(
            f"now run the gateway and workers with CREDENTIALS_ENCRYPTION_KEY={new_key_env}'s key "
            "(and the old one as CREDENTIALS_ENCRYPTION_KEY_PREVIOUS until they all have restarted)"
        )
    else:
        typer.echo("CREDENTIALS_ENCRYPTION_KEY_PREVIOUS can now be removed (with the next restart)")


@dlq_app.command("replay")
def dlq_replay(
    position: list[str] = typer.Option([], "--message", help="partition:offset to replay (repeatable)."),
    replay_all: bool = typer.Option(False, "--all", help="Replay every dead letter."),
) -> None:
    """Publish dead letters again to the topic they came from."""
    from shared.messaging.dlq import read_dead_letters, replay

    if not position and not replay_all:
        raise typer.BadParameter("give --message PARTITION:OFFSET or --all")
    settings = _settings()
    letters = asyncio.run(read_dead_letters(settings, limit=100_000))
    chosen = (
        letters
        if replay_all
        else [letter for letter in letters if f"{letter.partition}:{letter.offset}" in position]
    )
    typer.echo(f"replayed {asyncio.run(replay(settings, chosen))} message(s)")


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
