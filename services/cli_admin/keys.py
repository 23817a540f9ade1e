"""`activator keys rotate-credentials`: re-encrypts every connection's credentials under a new key."""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING

import typer

from services.cli_admin.common import cli_settings
from shared.settings import Settings

if TYPE_CHECKING:
    from shared.db.connections import Reencrypted

app = typer.Typer(help="The key that encrypts connection credentials.", no_args_is_help=True)


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


@app.command("rotate-credentials")
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
    settings = cli_settings()
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
