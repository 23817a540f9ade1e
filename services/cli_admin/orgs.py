"""`activator org create` and `activator org key rotate|revoke`: orgs and their API keys, in Postgres."""

from __future__ import annotations

import asyncio
import uuid

import typer

from services.cli_admin.common import cli_settings
from shared.settings import Settings

app = typer.Typer(help="Orgs and their API keys.", no_args_is_help=True)
key_app = typer.Typer(help="API keys of an org.", no_args_is_help=True)
app.add_typer(key_app, name="key")


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


@app.command("create")
def org_create(name: str = typer.Option(..., "--name", help="The org's display name.")) -> None:
    """Create an org and print its id and a new API key (shown once)."""
    typer.echo(asyncio.run(_with_pool(cli_settings(), "create", name, None)))


@key_app.command("rotate")
def key_rotate(org: uuid.UUID = typer.Option(..., "--org")) -> None:
    """Add a new key to an org; the old ones keep working until revoked."""
    typer.echo(asyncio.run(_with_pool(cli_settings(), "rotate", None, org)))


@key_app.command("revoke")
def key_revoke(
    org: uuid.UUID = typer.Option(..., "--org"),
    all_keys: bool = typer.Option(False, "--all", help="Revoke the newest key too (locks the org out)."),
) -> None:
    """Revoke the org's old keys, keeping the newest (after `rotate`); `--all` revokes every key."""
    typer.echo(asyncio.run(_with_pool(cli_settings(), "revoke", None, org, all_keys=all_keys)))
