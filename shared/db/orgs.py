"""Orgs and their API keys (stored as sha256 digests)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import asyncpg

from shared.db.pool import Db

KEY_PREFIX = "act_"


class KeyScope(StrEnum):
    """What a key may do: `admin` everything, `read` every read and no change (the api_keys CHECK)."""

    ADMIN = "admin"
    READ = "read"


@dataclass(frozen=True, slots=True)
class KeyGrant:
    """Whose a live key is and what it may do."""

    org_id: uuid.UUID
    scope: KeyScope


def hash_api_key(api_key: str) -> str:
    """The digest stored for a key; keys are long random strings, so a fast hash is enough."""
    return hashlib.sha256(api_key.encode()).hexdigest()


def new_api_key() -> str:
    """A fresh random API key."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


async def create_org(db: Db, name: str, *, scope: KeyScope = KeyScope.ADMIN) -> tuple[uuid.UUID, str]:
    """Create an org with one key of `scope`; returns (org id, plaintext key shown once)."""
    api_key = new_api_key()
    org_id: uuid.UUID = await db.fetchval("INSERT INTO orgs (name) VALUES ($1) RETURNING id", name)
    await add_api_key(db, org_id, api_key, scope=scope)
    return org_id, api_key


async def add_api_key(db: Db, org_id: uuid.UUID, api_key: str, *, scope: KeyScope = KeyScope.ADMIN) -> None:
    """Attach a key of `scope` to an org (idempotent for the same key)."""
    await db.execute(
        """INSERT INTO api_keys (org_id, key_hash, key_prefix, scope) VALUES ($1, $2, $3, $4)
           ON CONFLICT (key_hash) DO NOTHING""",
        org_id,
        hash_api_key(api_key),
        api_key[:8],
        scope.value,
    )


async def revoke_api_keys(db: Db, org_id: uuid.UUID, *, keep_newest: bool) -> int:
    """Revoke an org's live keys, all of them or all but the newest of each scope (rotate, then revoke the
    old ones: a read key made for a dashboard does not cost the org its admin key).

    Returns how many were revoked.
    """
    result: str = await db.execute(
        """UPDATE api_keys SET revoked_at = now()
           WHERE org_id = $1 AND revoked_at IS NULL
             AND (NOT $2 OR id NOT IN (SELECT DISTINCT ON (scope) id FROM api_keys
                                       WHERE org_id = $1 AND revoked_at IS NULL
                                       ORDER BY scope, created_at DESC, id DESC))""",
        org_id,
        keep_newest,
    )
    return int(result.rsplit(maxsplit=1)[-1])


async def live_keys(db: Db, org_id: uuid.UUID) -> list[tuple[str, KeyScope]]:
    """The prefixes and scopes of an org's live keys, newest first (to tell a human which keys are left)."""
    rows = await db.fetch(
        """SELECT key_prefix, scope FROM api_keys WHERE org_id = $1 AND revoked_at IS NULL
           ORDER BY created_at DESC, id DESC""",
        org_id,
    )
    return [(row["key_prefix"], KeyScope(row["scope"])) for row in rows]


async def org_for_api_key(db: asyncpg.Pool[Any], api_key: str) -> uuid.UUID | None:
    """The org a live key belongs to, or None."""
    org_id: uuid.UUID | None = await db.fetchval(
        "SELECT org_id FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL", hash_api_key(api_key)
    )
    return org_id


async def grant_for_api_key(db: Db, api_key: str) -> KeyGrant | None:
    """The org and scope of a live key, or None."""
    row = await db.fetchrow(
        "SELECT org_id, scope FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL", hash_api_key(api_key)
    )
    return None if row is None else KeyGrant(row["org_id"], KeyScope(row["scope"]))


async def ensure_dev_org(db: asyncpg.Pool[Any], api_key: str) -> uuid.UUID:
    """The dev org owning `api_key`, created on first use (for make up / demo / tests)."""
    existing = await org_for_api_key(db, api_key)
    if existing is not None:
        return existing
    async with db.acquire() as connection, connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock(hashtext('activator.dev_org'))")
        existing = await connection.fetchval(
            "SELECT org_id FROM api_keys WHERE key_hash = $1", hash_api_key(api_key)
        )
        if existing is not None:
            return existing  # type: ignore[no-any-return]
        org_id: uuid.UUID = await connection.fetchval("INSERT INTO orgs (name) VALUES ('dev') RETURNING id")
        await add_api_key(connection, org_id, api_key)
        return org_id
