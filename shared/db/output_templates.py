"""Stored output templates (per org, by key), and the lock that keeps the names they render current.

Where rendered names are stored and how they are written is `shared.db.rendered_names`. Template
changes take the org's render lock exclusively and topic writes take it shared, so a topic written
during a template change is rendered with one or the other, never left with a stale name.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from pydantic import BaseModel, ConfigDict

from shared.db.pool import Db, DbConnection
from shared.db.rendered_names import clear_rendered, store_rendered
from shared.output_templates import OutputTemplate

_COLUMNS = "key, path_fields, separator, name_template, description_template, active, created_at, updated_at"


@dataclass(frozen=True, slots=True)
class TemplateFields:
    """The writable part of an output template."""

    path_fields: list[str]
    separator: str = " > "
    name_template: str | None = None
    description_template: str = "{{description}}"


class StoredTemplate(BaseModel):
    """An output template as stored, with its state (the API's OutputTemplateOut adds only its wire casing)."""

    model_config = ConfigDict(frozen=True)

    key: str
    path_fields: list[str]
    separator: str
    name_template: str | None
    description_template: str
    active: bool
    created_at: datetime
    updated_at: datetime

    @property
    def template(self) -> OutputTemplate:
        """The renderable part."""
        return OutputTemplate(
            key=self.key,
            path_fields=self.path_fields,
            separator=self.separator,
            name_template=self.name_template,
            description_template=self.description_template,
        )


class TemplateExists(Exception):
    """The org already has a template with this key."""


class TemplateLimitReached(Exception):
    """The org already has the maximum number of templates."""


class TemplateInactive(Exception):
    """Only an active template renders names onto topics."""


class TemplateInUse(Exception):
    """Connections still name this template in `config.output_template_key`."""

    def __init__(self, connection_ids: list[uuid.UUID]) -> None:
        super().__init__(f"used by {len(connection_ids)} connection(s)")
        self.connection_ids = connection_ids


def _stored(row: asyncpg.Record) -> StoredTemplate:
    return StoredTemplate(**dict(row))


@contextlib.asynccontextmanager
async def render_lock(
    pool: asyncpg.Pool[Any], org_id: uuid.UUID, *, exclusive: bool
) -> AsyncIterator[DbConnection]:
    """A transaction holding the org's render lock: exclusive for template changes, shared for topic writes."""
    async with pool.acquire() as connection, connection.transaction():
        await take_render_lock(connection, org_id, exclusive=exclusive)
        yield connection


async def take_render_lock(connection: DbConnection, org_id: uuid.UUID, *, exclusive: bool) -> None:
    """Take the org's render lock until the end of the caller's transaction.

    Take it before the transaction writes any topic, so no row lock is held while waiting for it.
    """
    function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    await connection.execute(f"SELECT {function}(hashtext($1::text))", f"output_templates:{org_id}")


async def list_templates(db: Db, org_id: uuid.UUID) -> list[StoredTemplate]:
    """The org's templates by key."""
    rows = await db.fetch(f"SELECT {_COLUMNS} FROM output_templates WHERE org_id = $1 ORDER BY key", org_id)
    return [_stored(row) for row in rows]


async def get_template(db: Db, org_id: uuid.UUID, key: str) -> StoredTemplate | None:
    """One of the org's templates, or None."""
    row = await db.fetchrow(
        f"SELECT {_COLUMNS} FROM output_templates WHERE org_id = $1 AND key = $2", org_id, key
    )
    return _stored(row) if row else None


async def active_template(db: Db, org_id: uuid.UUID, key: str) -> OutputTemplate | None:
    """The org's active template with this key, or None."""
    stored = await get_template(db, org_id, key)
    return stored.template if stored is not None and stored.active else None


async def create_template(
    pool: asyncpg.Pool[Any],
    org_id: uuid.UUID,
    key: str,
    fields: TemplateFields,
    *,
    active: bool,
    limit: int,
    render_batch: int,
) -> StoredTemplate:
    """Insert a template and, when active, render it onto every topic of the org."""
    async with render_lock(pool, org_id, exclusive=True) as connection:
        count = await connection.fetchval("SELECT count(*) FROM output_templates WHERE org_id = $1", org_id)
        if count >= limit:
            raise TemplateLimitReached
        try:
            row = await connection.fetchrow(
                f"""INSERT INTO output_templates
                        (org_id, key, path_fields, separator, name_template, description_template, active)
                    VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {_COLUMNS}""",
                org_id,
                key,
                fields.path_fields,
                fields.separator,
                fields.name_template,
                fields.description_template,
                active,
            )
        except asyncpg.UniqueViolationError as exc:
            raise TemplateExists from exc
        assert row is not None
        stored = _stored(row)
        await _refresh(connection, org_id, stored, render_batch)
        return stored


async def update_template(
    pool: asyncpg.Pool[Any],
    org_id: uuid.UUID,
    key: str,
    fields: TemplateFields | None,
    *,
    active: bool | None,
    render_batch: int,
) -> StoredTemplate | None:
    """Replace a template's fields and/or its active flag (None keeps them); re-renders its names."""
    async with render_lock(pool, org_id, exclusive=True) as connection:
        row = await connection.fetchrow(
            f"""UPDATE output_templates SET
                    path_fields = CASE WHEN $3 THEN $4 ELSE path_fields END,
                    separator = CASE WHEN $3 THEN $5 ELSE separator END,
                    name_template = CASE WHEN $3 THEN $6 ELSE name_template END,
                    description_template = CASE WHEN $3 THEN $7 ELSE description_template END,
                    active = COALESCE($8, active),
                    updated_at = now()
                WHERE org_id = $1 AND key = $2 RETURNING {_COLUMNS}""",
            org_id,
            key,
            fields is not None,
            fields.path_fields if fields else [],
            fields.separator if fields else "",
            fields.name_template if fields else None,
            fields.description_template if fields else "",
            active,
        )
        if row is None:
            return None
        stored = _stored(row)
        await _refresh(connection, org_id, stored, render_batch)
        return stored


async def delete_template(pool: asyncpg.Pool[Any], org_id: uuid.UUID, key: str) -> bool:
    """Delete a template no connection names, with the names it rendered."""
    async with render_lock(pool, org_id, exclusive=True) as connection:
        users: list[uuid.UUID] = [
            row["id"]
            for row in await connection.fetch(
                """SELECT id FROM platform_connections
                   WHERE org_id = $1 AND config->>'output_template_key' = $2 ORDER BY created_at""",
                org_id,
                key,
            )
        ]
        if users:
            raise TemplateInUse(users)
        deleted: str = await connection.execute(
            "DELETE FROM output_templates WHERE org_id = $1 AND key = $2", org_id, key
        )
        if not deleted.endswith(" 1"):
            return False
        await clear_rendered(connection, org_id, key)
        return True


async def rerender_template(
    pool: asyncpg.Pool[Any], org_id: uuid.UUID, key: str, *, render_batch: int
) -> int | None:
    """Render an active template onto every topic of the org again; how many topics, None if unknown."""
    async with render_lock(pool, org_id, exclusive=True) as connection:
        stored = await get_template(connection, org_id, key)
        if stored is None:
            return None
        if not stored.active:
            raise TemplateInactive
        return await store_rendered(connection, org_id, [stored.template], None, render_batch)


async def _refresh(connection: DbConnection, org_id: uuid.UUID, stored: StoredTemplate, batch: int) -> None:
    if stored.active:
        await store_rendered(connection, org_id, [stored.template], None, batch)
    else:
        await clear_rendered(connection, org_id, stored.key)


async def render_topics(
    connection: DbConnection, org_id: uuid.UUID, topic_ids: Sequence[uuid.UUID], *, batch: int
) -> None:
    """Render every active template of the org onto these (just written) topics.

    Call it inside `render_lock(..., exclusive=False)`, in the transaction that wrote the topics.
    """
    if not topic_ids:
        return
    await store_rendered(connection, org_id, await active_templates(connection, org_id), topic_ids, batch)


async def active_templates(db: Db, org_id: uuid.UUID) -> list[OutputTemplate]:
    """Every active template of the org, by key: what a topic write renders."""
    return [stored.template for stored in await list_templates(db, org_id) if stored.active]
