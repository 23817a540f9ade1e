"""Platform connections; credentials are encrypted and decrypted inside Postgres with pgcrypto."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from shared.db.pool import DbConnection

_COLUMNS = (
    "id, org_id, name, platform, direction, auth_type, config, enabled, created_at, updated_at,"
    " auth_credentials_enc IS NOT NULL AS has_credentials"
)


@dataclass(frozen=True, slots=True)
class Connection:
    id: uuid.UUID
    org_id: uuid.UUID
    name: str
    platform: str
    direction: str
    auth_type: str
    config: dict[str, Any]
    enabled: bool
    has_credentials: bool
    created_at: datetime
    updated_at: datetime


def _connection(row: asyncpg.Record) -> Connection:
    return Connection(**dict(row))


class ConnectionLimitReached(Exception):
    """The org already has the maximum number of connections."""


@dataclass(frozen=True, slots=True)
class ConnectionFields:
    """The writable part of a connection; `credentials` None means none (create) or unchanged (update)."""

    name: str
    platform: str
    direction: str
    auth_type: str
    credentials: dict[str, str] | None
    config: dict[str, Any]
    enabled: bool = True

    def credentials_json(self) -> str | None:
        """The plaintext handed to pgp_sym_encrypt inside Postgres."""
        return json.dumps(self.credentials) if self.credentials is not None else None


async def create_connection(
    db: asyncpg.Pool[Any],
    org_id: uuid.UUID,
    fields: ConnectionFields,
    *,
    encryption_key: str,
    limit: int,
) -> Connection:
    """Insert a connection, refusing the one past `limit` even under concurrent creates."""
    async with db.acquire() as connection, connection.transaction():
        # Serialise creates per org so the count check cannot race.
        await connection.execute("SELECT pg_advisory_xact_lock(hashtext($1::text))", f"connections:{org_id}")
        count = await connection.fetchval(
            "SELECT count(*) FROM platform_connections WHERE org_id = $1", org_id
        )
        if count >= limit:
            raise ConnectionLimitReached
        row = await connection.fetchrow(
            f"""INSERT INTO platform_connections
                    (org_id, name, platform, direction, auth_type, auth_credentials_enc, config, enabled)
                VALUES ($1, $2, $3, $4, $5,
                        CASE WHEN $6::text IS NULL THEN NULL ELSE pgp_sym_encrypt($6::text, $7::text) END,
                        $8, $9)
                RETURNING {_COLUMNS}""",
            org_id,
            fields.name,
            fields.platform,
            fields.direction,
            fields.auth_type,
            fields.credentials_json(),
            encryption_key,
            fields.config,
            fields.enabled,
        )
    assert row is not None
    return _connection(row)


async def update_connection(
    db: asyncpg.Pool[Any],
    org_id: uuid.UUID,
    connection_id: uuid.UUID,
    fields: ConnectionFields,
    *,
    encryption_key: str,
) -> Connection | None:
    """Replace a connection's settings; without new credentials the stored ones are kept."""
    row = await db.fetchrow(
        f"""UPDATE platform_connections SET
                name = $3, platform = $4, direction = $5, auth_type = $6, config = $8, enabled = $9,
                auth_credentials_enc = CASE WHEN $7::text IS NULL THEN auth_credentials_enc
                                            ELSE pgp_sym_encrypt($7::text, $10::text) END,
                updated_at = now()
            WHERE org_id = $1 AND id = $2
            RETURNING {_COLUMNS}""",
        org_id,
        connection_id,
        fields.name,
        fields.platform,
        fields.direction,
        fields.auth_type,
        fields.credentials_json(),
        fields.config,
        fields.enabled,
        encryption_key,
    )
    return _connection(row) if row else None


async def get_connection(
    db: asyncpg.Pool[Any], org_id: uuid.UUID, connection_id: uuid.UUID
) -> Connection | None:
    """One of the org's connections, or None (also for another org's id)."""
    row = await db.fetchrow(
        f"SELECT {_COLUMNS} FROM platform_connections WHERE org_id = $1 AND id = $2", org_id, connection_id
    )
    return _connection(row) if row else None


async def list_connections(db: asyncpg.Pool[Any], org_id: uuid.UUID) -> list[Connection]:
    """All of the org's connections, oldest first."""
    rows = await db.fetch(
        f"SELECT {_COLUMNS} FROM platform_connections WHERE org_id = $1 ORDER BY created_at, id", org_id
    )
    return [_connection(row) for row in rows]


async def delete_connection(db: asyncpg.Pool[Any], org_id: uuid.UUID, connection_id: uuid.UUID) -> bool:
    """Delete one of the org's connections; False when there was none."""
    result: str = await db.execute(
        "DELETE FROM platform_connections WHERE org_id = $1 AND id = $2", org_id, connection_id
    )
    return result.endswith(" 1")


async def decrypt_credentials(
    db: asyncpg.Pool[Any],
    org_id: uuid.UUID,
    connection_id: uuid.UUID,
    encryption_key: str,
    *,
    fallback_keys: Sequence[str] = (),
) -> dict[str, str]:
    """The connection's plaintext credentials, for the moment a worker needs them.

    `fallback_keys` are tried in turn when `encryption_key` does not decrypt them (a rotation under way);
    the last failure (asyncpg.ExternalRoutineInvocationError) is raised when none does.
    """
    keys = (encryption_key, *fallback_keys)
    for index, key in enumerate(keys):
        try:
            plaintext: str | None = await db.fetchval(
                """SELECT pgp_sym_decrypt(auth_credentials_enc, $3::text) FROM platform_connections
                   WHERE org_id = $1 AND id = $2 AND auth_credentials_enc IS NOT NULL""",
                org_id,
                connection_id,
                key,
            )
        except asyncpg.ExternalRoutineInvocationError:  # pgcrypto: wrong key or corrupt data
            if index == len(keys) - 1:
                raise
            continue
        return json.loads(plaintext) if plaintext else {}
    raise AssertionError("unreachable: at least one key is tried")


class CredentialsKeyMismatch(Exception):
    """A connection's credentials do not decrypt with the key given as the current one."""

    def __init__(self, connection_id: uuid.UUID) -> None:
        super().__init__(
            f"the credentials of connection {connection_id} decrypt with neither the old nor the new key"
        )
        self.connection_id = connection_id


@dataclass(frozen=True, slots=True)
class Reencrypted:
    """What a rotation did: credentials moved to the new key, and those already under it."""

    moved: int
    already: int


async def reencrypt_credentials(
    db: asyncpg.Pool[Any], old_key: str, new_key: str, *, dry_run: bool = False
) -> Reencrypted:
    """Re-encrypt every connection's credentials from `old_key` to `new_key` in one transaction.

    Credentials already under `new_key` (saved by a service that runs with it while the rotation is
    under way) are left as they are. All or nothing: one credential that decrypts with neither key
    leaves every row as it was. Connections cannot be written meanwhile. `dry_run` checks everything,
    then rolls back.
    """
    async with db.acquire() as connection:
        transaction = connection.transaction()
        await transaction.start()
        try:
            await connection.execute("LOCK TABLE platform_connections IN SHARE ROW EXCLUSIVE MODE")
            ids = await connection.fetch(
                "SELECT id FROM platform_connections WHERE auth_credentials_enc IS NOT NULL ORDER BY id"
            )
            moved = already = 0
            for row in ids:
                if await _reencrypt_one(connection, row["id"], old_key, new_key):
                    moved += 1
                else:
                    already += 1
        except BaseException:
            await transaction.rollback()
            raise
        if dry_run:
            await transaction.rollback()
        else:
            await transaction.commit()
        return Reencrypted(moved, already)


async def _reencrypt_one(
    connection: DbConnection, connection_id: uuid.UUID, old_key: str, new_key: str
) -> bool:
    """Move one credential to `new_key`; False when it is under `new_key` already."""
    try:
        async with connection.transaction():  # a savepoint, so the failing row can be named
            await connection.execute(
                """UPDATE platform_connections
                   SET auth_credentials_enc = pgp_sym_encrypt(pgp_sym_decrypt(auth_credentials_enc, $2), $3)
                   WHERE id = $1""",
                connection_id,
                old_key,
                new_key,
            )
        return True
    except asyncpg.ExternalRoutineInvocationError:  # pgcrypto: wrong key or corrupt data
        pass
    try:
        async with connection.transaction():
            await connection.fetchval(
                "SELECT pgp_sym_decrypt(auth_credentials_enc, $2) FROM platform_connections WHERE id = $1",
                connection_id,
                new_key,
            )
        return False
    except asyncpg.ExternalRoutineInvocationError as exc:
        raise CredentialsKeyMismatch(connection_id) from exc
