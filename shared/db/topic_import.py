"""How many topics are written at once: COPY into a staging table and one merge a chunk, pipelined.

The chunks of one import follow each other on one connection and in the caller's transaction. While
Postgres merges a chunk, the next chunk's rows (rendered names, JSON text) are built in a thread, so
the gateway's work and the database's overlap instead of taking turns: on two cores the import then
takes about as long as the merge alone (bench/README.md, scale).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import asyncpg
import pydantic_core

from shared.db.pool import DbConnection
from shared.db.rendered_names import NAME_COLUMNS, NameValues
from shared.output_templates import RenderableTopic

MERGE_CHUNK = 2_500
"""Topics a merge statement writes: small enough that the first chunk, built before anything overlaps
it, is a short part of a 10,000-topic request; large enough that a statement's round trip is noise."""


@dataclass(frozen=True, slots=True)
class ImportCounts:
    """What an import did: topics created, and topics that existed and were updated."""

    created: int
    updated: int


class ImportedTopic(RenderableTopic, Protocol):
    """A topic an import writes (a `TopicFields`, or the API's validated input as it is): the fields a
    template reads, and the connection it was synced from, if any."""

    @property
    def source_connection_id(self) -> uuid.UUID | None: ...


IMPORTED = (
    "name, parent_category, path, description, external_id, cpm, attributes, source_connection_id, "
    + ", ".join(NAME_COLUMNS)
)
_IMPORTED_CAST = (
    IMPORTED.replace("cpm", "cpm::numeric")
    .replace("attributes", "attributes::jsonb")
    .replace("platform_outputs", "platform_outputs::jsonb")
)
# JSON columns are text here so COPY needs no codec (pool connections encode jsonb, bare ones do not);
# so is cpm: str(Decimal) is exact and a tenth of the cost of asyncpg's binary numeric encoder.
# ON COMMIT DELETE ROWS: each import sees only its own rows, and the table is made once per session.
_STAGING = """CREATE TEMP TABLE IF NOT EXISTS topics_import (
    name text, parent_category text, path text[], description text, external_id text, cpm text,
    attributes text, source_connection_id uuid, tradedesk_name text, tradedesk_description text,
    liveramp_name text, liveramp_description text, platform_outputs text
) ON COMMIT DELETE ROWS"""
_STAGED_COLUMNS = IMPORTED.split(", ")

_Row = tuple[Any, ...]


def _json_text(attributes: dict[str, Any]) -> str:
    """The attributes as JSON text for the staging table: the value `json.dumps` writes (NaN and
    Infinity included, which Postgres refuses as before), by pydantic's serializer in a fifth of the
    time; `json.dumps` itself for what that refuses (a lone surrogate in a string)."""
    try:
        return pydantic_core.to_json(attributes, inf_nan_mode="constants").decode()
    except pydantic_core.PydanticSerializationError:
        return json.dumps(attributes)


def _rows(topics: Iterable[ImportedTopic], names: NameValues) -> Iterable[_Row]:
    return (
        (
            t.name,
            t.parent_category,
            t.path,
            t.description,
            t.external_id,
            None if t.cpm is None else str(t.cpm),
            _json_text(t.attributes),
            t.source_connection_id,
            *names(t),
        )
        for t in topics
    )


def merge_statement(names: NameValues, *, counts: bool) -> str:
    """The merge of the staged chunk: RETURNING (id, created) of every topic written, or with `counts`
    one row (created, written), so a caller that needs only the counts receives no row per topic."""
    assignments = ",\n".join(["", *names.assignments()])
    merge = f"""INSERT INTO topics (org_id, {IMPORTED})
        SELECT $1, {_IMPORTED_CAST} FROM topics_import
        ON CONFLICT (org_id, external_id) WHERE external_id IS NOT NULL DO UPDATE SET
            name = EXCLUDED.name, parent_category = EXCLUDED.parent_category, path = EXCLUDED.path,
            description = EXCLUDED.description, cpm = EXCLUDED.cpm, attributes = EXCLUDED.attributes,
            source_connection_id = COALESCE(EXCLUDED.source_connection_id, topics.source_connection_id),
            status = 'active', updated_at = now(){assignments}
        RETURNING id, (xmax = 0) AS created"""
    if not counts:
        return merge
    return f"""WITH merged AS ({merge})
        SELECT count(*) FILTER (WHERE created) AS created, count(*) AS written FROM merged"""


async def merge_chunks(
    connection: DbConnection,
    org_id: uuid.UUID,
    topics: Sequence[ImportedTopic],
    names: NameValues,
    merge: str,
    *,
    chunk: int = MERGE_CHUNK,
) -> list[asyncpg.Record]:
    """Stage and merge `topics` chunk by chunk with `merge` (a `merge_statement`), the next chunk's rows
    built while the last one merges; the rows every merge returned. Runs inside the caller's transaction."""
    await connection.execute(_STAGING)
    chunks = [topics[start : start + chunk] for start in range(0, len(topics), chunk)]
    returned: list[asyncpg.Record] = []
    # The first chunk's rows are a generator: rendered as COPY sends them, so Postgres ingests while
    # they are built; each later chunk's were built in a thread during the merge before it.
    rows: Iterable[_Row] = _rows(chunks[0], names) if chunks else ()
    for index in range(len(chunks)):
        if index:
            await connection.execute("TRUNCATE topics_import")
        await connection.copy_records_to_table("topics_import", columns=_STAGED_COLUMNS, records=rows)
        if index + 1 == len(chunks):
            returned += await connection.fetch(merge, org_id)
            break
        merging = asyncio.ensure_future(connection.fetch(merge, org_id))
        try:
            rows = await asyncio.to_thread(_built, chunks[index + 1], names)
        finally:
            # Whatever the build did, the merge ends before the connection is used again (or rolled back).
            returned += await merging
    return returned


def _built(topics: Sequence[ImportedTopic], names: NameValues) -> list[_Row]:
    return list(_rows(topics, names))
