"""Transactional outbox: rows written with the state change, published by the relay."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from shared.db.pool import DbConnection
from shared.tracing import current_trace_headers

NOTIFY_CHANNEL = "activator_outbox"


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    id: int
    topic: str
    key: str
    payload: dict[str, Any]
    headers: dict[str, str]


async def enqueue(
    connection: DbConnection,
    *,
    topic: str,
    key: str,
    payload: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> None:
    """Add a message inside the caller's transaction; it is published only if that commits."""
    await connection.execute(
        "INSERT INTO outbox (topic, key, payload, headers) VALUES ($1, $2, $3, $4)",
        topic,
        key,
        payload,
        {**current_trace_headers(), **(headers or {})},
    )
    await connection.execute(f"NOTIFY {NOTIFY_CHANNEL}")


async def claim_pending(connection: DbConnection, limit: int) -> list[OutboxMessage]:
    """Lock the oldest undispatched messages (other relays skip them) inside a transaction."""
    rows = await connection.fetch(
        """SELECT id, topic, key, payload, headers FROM outbox
           WHERE dispatched_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED""",
        limit,
    )
    return [OutboxMessage(**dict(row)) for row in rows]


async def mark_dispatched(connection: DbConnection, ids: list[int]) -> None:
    """Record that these messages reached Kafka."""
    await connection.execute("UPDATE outbox SET dispatched_at = now() WHERE id = ANY($1::bigint[])", ids)


async def pending_count(db: asyncpg.Pool[Any]) -> int:
    """How many messages wait for the relay (the outbox lag)."""
    count: int = await db.fetchval("SELECT count(*) FROM outbox WHERE dispatched_at IS NULL")
    return count
