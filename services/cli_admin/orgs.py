"""`activator org create` and `activator org key rotate|revoke`: orgs and their API keys, in Postgres."""

from __future__ import annotations

import asyncio
import uuid
from enum import StrEnum

import typer

from services.cli_admin.common import cli_settings
from shared.settings import Settings

app = typer.Typer(help="Orgs and their API keys.", no_args_is_help=True)
key_app = typer.Typer(help="API keys of an org.", no_args_is_help=True)
app.add_typer(key_app, name="key")


class ScopeOption(StrEnum):
    """`--scope`: the values of shared.db.orgs.KeyScope, as typer lists them in --help."""

    ADMIN = "admin"
    READ = "read"


_SCOPE_HELP = "admin: everything; read: every GET and the run event stream, no change (403)."


async def _with_pool(
    settings: Settings,
    action: str,
    name: str | None,
    org_id: uuid.UUID | None,
    *,
    all_keys: bool = False,
    scope: ScopeOption = ScopeOption.ADMIN,
) -> str:
    from shared.db import orgs
    from shared.db.pool import create_pool

    key_scope = orgs.KeyScope(scope.value)
    pool = await create_pool(settings.database_url, max_size=2)
    try:
        if action == "create":
            assert name is not None
            new_org, api_key = await orgs.create_org(pool, name, scope=key_scope)
            return f"org_id={new_org}\napi_key={api_key}\nscope={key_scope}"
        assert org_id is not None
        if action == "rotate":
            api_key = orgs.new_api_key()
            await orgs.add_api_key(pool, org_id, api_key, scope=key_scope)
            return (
                f"api_key={api_key}\nscope={key_scope}\n"
                "(the old keys keep working until `activator org key revoke`)"
            )
        revoked = await orgs.revoke_api_keys(pool, org_id, keep_newest=not all_keys)
        left = ", ".join(
            f"{prefix}… ({left_scope})" for prefix, left_scope in await orgs.live_keys(pool, org_id)
        )
        kept = f"; still working: {left}" if left else "; the org has no live key left"
        return f"revoked {revoked} key(s){kept}"
    finally:
        await pool.close()


@app.command("create")
def org_create(
    name: str = typer.Option(..., "--name", help="The org's display name."),
    scope: ScopeOption = typer.Option(ScopeOption.ADMIN, "--scope", help=_SCOPE_HELP),
) -> None:
    """Create an org and print its id and a new API key (shown once)."""
    typer.echo(asyncio.run(_with_pool(cli_settings(), "create", name, None, scope=scope)))


@key_app.command("rotate")
def key_rotate(
    org: uuid.UUID = typer.Option(..., "--org"),
    scope: ScopeOption = typer.Option(ScopeOption.ADMIN, "--scope", help=_SCOPE_HELP),
) -> None:
    """Add a new key of `--scope` to an org; the old ones keep working until revoked."""
    typer.echo(asyncio.run(_with_pool(cli_settings(), "rotate", None, org, scope=scope)))


@key_app.command("revoke")
def key_revoke(
    org: uuid.UUID = typer.Option(..., "--org"),
    all_keys: bool = typer.Option(False, "--all", help="Revoke the newest key too (locks the org out)."),
) -> None:
    """Revoke the org's old keys, keeping the newest of each scope (after `rotate`); `--all` revokes every key."""
    typer.echo(asyncio.run(_with_pool(cli_settings(), "revoke", None, org, all_keys=all_keys)))
