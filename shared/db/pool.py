"""asyncpg pool with JSON codecs, created by composition roots."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, TypeAlias

import asyncpg

POSTGRES_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
)
"""What a statement raises while Postgres is away (down, restarting, unreachable): wait and try again."""


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
