"""asyncpg pool with JSON codecs, created by composition roots."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, TypeAlias

import asyncpg

POSTGRES_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
)
"""What a statement raises while Postgres is away (down, restarting, unreachable): wait and try again."""

POSTGRES_CONNECTION_LOST: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,  # starting up or shutting down
    asyncpg.AdminShutdownError,  # a fast or smart stop ended the connection mid-statement
    asyncpg.CrashShutdownError,  # another backend crashed and the server reset every connection
    asyncpg.TooManyConnectionsError,
    # "cannot switch to state ...; another operation is in progress": a pooled connection a shutdown cut
    # off mid-operation (seen in the long chaos mode's Postgres stop); a new connection serves the retry.
    asyncpg.InternalClientError,
)
"""The failures that say Postgres is away, never that the statement is wrong: the same statement may be
sent again once it is back (POSTGRES_UNAVAILABLE also holds every error a statement can raise)."""


async def _init_connection(connection: asyncpg.Connection[Any]) -> None:
    for type_name in ("json", "jsonb"):
        await connection.set_type_codec(
            type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


async def create_pool(database_url: str, *, max_size: int = 10, min_size: int = 1) -> asyncpg.Pool[Any]:
    """Open a pool whose json/jsonb columns read and write Python objects (min_size=0: connect on first use)."""
    pool = await asyncpg.create_pool(
        database_url, min_size=min_size, max_size=max_size, init=_init_connection, command_timeout=60
    )
    assert pool is not None
    return pool


if TYPE_CHECKING:
    PgPool: TypeAlias = asyncpg.Pool[Any]
else:
    PgPool = asyncpg.Pool
"""The pool type, usable where annotations are evaluated at runtime (FastAPI dependencies)."""

DbConnection: TypeAlias = "asyncpg.Connection[Any] | asyncpg.pool.PoolConnectionProxy[Any]"
"""A connection, whether standalone or borrowed from a pool."""

Db: TypeAlias = "asyncpg.Pool[Any] | DbConnection"
"""Anything a single statement can run on."""
