"""Orgs and their API keys (stored as sha256 digests)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import asyncpg

from shared.db.pool import Db, DbConnection

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


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """A live key as an admin may see it: never the secret, only its first characters."""

    id: uuid.UUID
    prefix: str
    scope: KeyScope
    created_at: datetime


class KeyRevocation(StrEnum):
    """What `revoke_api_key` did."""

    REVOKED = "revoked"
    NOT_FOUND = "not_found"  # no live key of that id in the org
    LAST_ADMIN = "last_admin"  # refused: the org would have no admin key left
    IN_USE = "in_use"  # refused: the caller's own key


_RECORD_COLUMNS = "id, key_prefix AS prefix, scope, created_at"


def _record(row: Any) -> ApiKeyRecord:
    return ApiKeyRecord(row["id"], row["prefix"], KeyScope(row["scope"]), row["created_at"])


async def list_api_keys(db: Db, org_id: uuid.UUID) -> list[ApiKeyRecord]:
    """The org's live keys, newest first."""
    rows = await db.fetch(
        f"""SELECT {_RECORD_COLUMNS} FROM api_keys WHERE org_id = $1 AND revoked_at IS NULL
            ORDER BY created_at DESC, id DESC""",
        org_id,
    )
    return [_record(row) for row in rows]


async def create_api_key(db: Db, org_id: uuid.UUID, scope: KeyScope) -> tuple[ApiKeyRecord, str]:
    """A new key of `scope` for the org: (its record, the plaintext shown once)."""
    api_key = new_api_key()
    row = await db.fetchrow(
        f"""INSERT INTO api_keys (org_id, key_hash, key_prefix, scope) VALUES ($1, $2, $3, $4)
            RETURNING {_RECORD_COLUMNS}""",
        org_id,
        hash_api_key(api_key),
        api_key[:8],
        scope.value,
    )
    return _record(row), api_key


async def _lock_org_keys(connection: DbConnection, org_id: uuid.UUID) -> None:
    # Two concurrent revocations must not each see the other's admin key as the one left.
    await connection.execute("SELECT 1 FROM orgs WHERE id = $1 FOR UPDATE", org_id)


async def rotate_api_key(
    pool: asyncpg.Pool[Any], org_id: uuid.UUID, key_id: uuid.UUID
) -> tuple[ApiKeyRecord, str] | None:
    """Replace a live key by a new one of its scope in one transaction (the old one stops working now);
    None when the org has no live key of that id."""
    async with pool.acquire() as connection, connection.transaction():
        await _lock_org_keys(connection, org_id)
        scope = await connection.fetchval(
            """UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND org_id = $2 AND revoked_at IS NULL
               RETURNING scope""",
            key_id,
            org_id,
        )
        if scope is None:
            return None
        return await create_api_key(connection, org_id, KeyScope(scope))


async def revoke_api_key(
    pool: asyncpg.Pool[Any], org_id: uuid.UUID, key_id: uuid.UUID, *, in_use: uuid.UUID | None
) -> KeyRevocation:
    """Revoke one live key of the org, unless it is the org's last admin key (which would lock it out) or
    `in_use`, the key of the caller."""
    async with pool.acquire() as connection, connection.transaction():
        await _lock_org_keys(connection, org_id)
        scope = await connection.fetchval(
            "SELECT scope FROM api_keys WHERE id = $1 AND org_id = $2 AND revoked_at IS NULL", key_id, org_id
        )
        if scope is None:
            return KeyRevocation.NOT_FOUND
        if scope == KeyScope.ADMIN.value:
            admins = await connection.fetchval(
                "SELECT count(*) FROM api_keys WHERE org_id = $1 AND revoked_at IS NULL AND scope = $2",
                org_id,
                KeyScope.ADMIN.value,
            )
            if admins <= 1:
                return KeyRevocation.LAST_ADMIN
        if key_id == in_use:
            return KeyRevocation.IN_USE
        await connection.execute("UPDATE api_keys SET revoked_at = now() WHERE id = $1", key_id)
        return KeyRevocation.REVOKED


async def live_key_id(db: Db, api_key: str) -> uuid.UUID | None:
    """The id of a live key, or None."""
    key_id: uuid.UUID | None = await db.fetchval(
        "SELECT id FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL", hash_api_key(api_key)
    )
    return key_id


async def console_session_key_id(db: Db, session_id: uuid.UUID) -> uuid.UUID | None:
    """The id of the key a console session was opened with."""
    key_id: uuid.UUID | None = await db.fetchval(
        "SELECT api_key_id FROM console_sessions WHERE id = $1", session_id
    )
    return key_id


async def orgs_of_api_keys(db: Db, api_keys: set[str]) -> dict[str, uuid.UUID]:
    """The org of each key that ever existed (live or revoked), by plaintext key: whose a message was."""
    by_hash = {hash_api_key(api_key): api_key for api_key in api_keys}
    rows = await db.fetch("SELECT key_hash, org_id FROM api_keys WHERE key_hash = ANY($1)", list(by_hash))
    return {by_hash[row["key_hash"]]: row["org_id"] for row in rows}


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
