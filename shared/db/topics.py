"""The org's taxonomy: topics, with cursor pagination and a set-based import (COPY and one merge)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg

from shared.db.output_templates import active_templates, take_render_lock
from shared.db.pool import Db, DbConnection
from shared.db.rendered_names import NameValues
from shared.db.topic_import import MERGE_CHUNK, ImportCounts, ImportedTopic, merge_chunks, merge_statement

_COLUMNS = (
    "id, org_id, name, parent_category, path, description, external_id, source_connection_id, cpm,"
    " attributes, status, created_at, updated_at, tradedesk_name, tradedesk_description,"
    " liveramp_name, liveramp_description, platform_outputs"
)


@dataclass(frozen=True, slots=True)
class Topic:
    id: uuid.UUID
    org_id: uuid.UUID
    name: str
    parent_category: str | None
    path: list[str]
    description: str
    external_id: str | None
    source_connection_id: uuid.UUID | None
    cpm: Decimal | None
    attributes: dict[str, Any]
    status: str
    created_at: datetime
    updated_at: datetime
    tradedesk_name: str | None = None
    tradedesk_description: str | None = None
    liveramp_name: str | None = None
    liveramp_description: str | None = None
    platform_outputs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TopicFields:
    """The writable part of a topic."""

    name: str
    parent_category: str | None = None
    path: list[str] = field(default_factory=list)
    description: str = ""
    external_id: str | None = None
    cpm: Decimal | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    source_connection_id: uuid.UUID | None = None


def _topic(row: asyncpg.Record) -> Topic:
    return Topic(**dict(row))


async def list_topics(
    db: asyncpg.Pool[Any],
    org_id: uuid.UUID,
    *,
    limit: int,
    after: uuid.UUID | None,
    include_deleted: bool = False,
) -> list[Topic]:
    """A page of the org's topics in id order, starting after the cursor id."""
    rows = await db.fetch(
        f"""SELECT {_COLUMNS} FROM topics
            WHERE org_id = $1 AND ($2::uuid IS NULL OR id > $2) AND ($4 OR status = 'active')
            ORDER BY id LIMIT $3""",
        org_id,
        after,
        limit,
        include_deleted,
    )
    return [_topic(row) for row in rows]


async def get_topic(db: asyncpg.Pool[Any], org_id: uuid.UUID, topic_id: uuid.UUID) -> Topic | None:
    """One of the org's topics, or None."""
    row = await db.fetchrow(f"SELECT {_COLUMNS} FROM topics WHERE org_id = $1 AND id = $2", org_id, topic_id)
    return _topic(row) if row else None


async def create_topic(db: Db, org_id: uuid.UUID, fields: ImportedTopic) -> Topic:
    """Insert one topic (a `TopicFields`, or the API's validated input as it is)."""
    row = await db.fetchrow(
        f"""INSERT INTO topics (org_id, name, parent_category, path, description, external_id, cpm, attributes,
                                source_connection_id)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {_COLUMNS}""",
        org_id,
        fields.name,
        fields.parent_category,
        fields.path,
        fields.description,
        fields.external_id,
        fields.cpm,
        fields.attributes,
        fields.source_connection_id,
    )
    assert row is not None
    return _topic(row)


async def update_topic(db: Db, org_id: uuid.UUID, topic_id: uuid.UUID, fields: ImportedTopic) -> Topic | None:
    """Replace a topic's writable fields (reactivates a deleted topic)."""
    row = await db.fetchrow(
        f"""UPDATE topics SET name = $3, parent_category = $4, path = $5, description = $6, external_id = $7,
                cpm = $8, attributes = $9, status = 'active', updated_at = now()
            WHERE org_id = $1 AND id = $2 RETURNING {_COLUMNS}""",
        org_id,
        topic_id,
        fields.name,
        fields.parent_category,
        fields.path,
        fields.description,
        fields.external_id,
        fields.cpm,
        fields.attributes,
    )
    return _topic(row) if row else None


async def soft_delete_topic(db: asyncpg.Pool[Any], org_id: uuid.UUID, topic_id: uuid.UUID) -> bool:
    """Mark a topic deleted; its segments are deactivated by the next push."""
    result: str = await db.execute(
        "UPDATE topics SET status = 'deleted', updated_at = now() WHERE org_id = $1 AND id = $2",
        org_id,
        topic_id,
    )
    return result.endswith(" 1")


async def upsert_rendered_topics(
    connection: DbConnection, org_id: uuid.UUID, topics: Sequence[ImportedTopic], *, render_batch: int
) -> list[tuple[uuid.UUID, bool]]:
    """`upsert_topics` that also stores the names the org's active output templates render for them.

    Rendered and merged `render_batch` topics at a time at most. Runs inside the caller's transaction;
    call it before that transaction writes other topics.
    """
    names = await _names(connection, org_id)
    return await upsert_topics(connection, org_id, topics, names, chunk=min(render_batch, MERGE_CHUNK))


async def import_topics(
    connection: DbConnection, org_id: uuid.UUID, topics: Sequence[ImportedTopic], *, render_batch: int
) -> ImportCounts:
    """`upsert_rendered_topics` for a caller that needs only how many were created and updated (the bulk
    import): no row per topic comes back. Runs inside the caller's transaction."""
    names = await _names(connection, org_id)
    merge = merge_statement(names, counts=True)
    rows = await merge_chunks(connection, org_id, topics, names, merge, chunk=min(render_batch, MERGE_CHUNK))
    created, written = sum(row["created"] for row in rows), sum(row["written"] for row in rows)
    return ImportCounts(created=created, updated=written - created)


async def _names(connection: DbConnection, org_id: uuid.UUID) -> NameValues:
    await take_render_lock(connection, org_id, exclusive=False)
    return NameValues(await active_templates(connection, org_id))


async def upsert_topics(
    connection: DbConnection,
    org_id: uuid.UUID,
    topics: Sequence[ImportedTopic],
    names: NameValues | None = None,
    *,
    chunk: int = MERGE_CHUNK,
) -> list[tuple[uuid.UUID, bool]]:
    """Insert or update many topics, keyed by external id when given; with `names`, the rendered names
    go into the same rows (the fields a template reads are the ones written).

    The topics are COPYed into a session-local staging table and merged by INSERT ... ON CONFLICT, a
    chunk at a time (shared.db.topic_import): measured faster than `unnest` arrays (bench/README.md,
    scale). Runs inside the caller's transaction. Returns (topic id, created) for every topic written.
    """
    names = names or NameValues([])
    merge = merge_statement(names, counts=False)
    rows = await merge_chunks(connection, org_id, topics, names, merge, chunk=chunk)
    return [(row["id"], row["created"]) for row in rows]


async def topics_for_push_after(
    db: Db,
    org_id: uuid.UUID,
    topic_ids: list[uuid.UUID] | None,
    *,
    after: uuid.UUID | None,
    limit: int,
    upto: uuid.UUID | None = None,
) -> list[Topic]:
    """The next `limit` topics a push run covers (all active ones, or the selected ones), in id order;
    none past `upto` (the end of a run lane's id range)."""
    rows = await db.fetch(
        f"""SELECT {_COLUMNS} FROM topics
            WHERE org_id = $1 AND status = 'active' AND ($2::uuid[] IS NULL OR id = ANY($2))
              AND ($3::uuid IS NULL OR id > $3) AND ($5::uuid IS NULL OR id <= $5)
            ORDER BY id LIMIT $4""",
        org_id,
        topic_ids,
        after,
        limit,
        upto,
    )
    return [_topic(row) for row in rows]


async def count_topics_for_push(db: Db, org_id: uuid.UUID, topic_ids: list[uuid.UUID] | None) -> int:
    """How many topics a push run would cover."""
    count: int = await db.fetchval(
        "SELECT count(*) FROM topics WHERE org_id = $1 AND status = 'active' AND ($2::uuid[] IS NULL OR id = ANY($2))",
        org_id,
        topic_ids,
    )
    return count
