"""The names output templates render, as stored on topics, and how they are written set-wise.

Built-in keys keep theirs in `tradedesk_*` / `liveramp_*` columns, any other key in
`platform_outputs[key]`. The naming rules themselves live in `shared.output_templates`; this module
only decides where their results go. Callers hold the org's render lock (`shared.db.output_templates`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from json.encoder import encode_basestring_ascii as _json_string  # json.dumps's own, for its exact text
from typing import Any

from shared.db.pool import Db, DbConnection
from shared.output_templates import BUILTIN_KEYS, OutputTemplate, RenderableTopic, RenderedSegment, Renderer

_TOPIC_COLUMNS = "id, name, parent_category, path, description, external_id, cpm, attributes"
BUILTIN_COLUMNS = {key: (f"{key}_name", f"{key}_description") for key in sorted(BUILTIN_KEYS)}
NAME_COLUMNS = (*(column for pair in BUILTIN_COLUMNS.values() for column in pair), "platform_outputs")
"""The topic columns rendered names are stored in, in the order `name_values` gives them."""


@dataclass(frozen=True, slots=True)
class RenderableRow:
    """The topic fields a template may read."""

    id: uuid.UUID
    name: str
    parent_category: str | None
    path: list[str]
    description: str
    external_id: str | None
    cpm: Decimal | None
    attributes: dict[str, Any] = field(default_factory=dict)


class NameValues:
    """The org's active templates, rendering topics about to be written into the values of NAME_COLUMNS.

    Lets an import store names in the statement that writes the topics, instead of a second UPDATE.
    """

    def __init__(self, templates: Sequence[OutputTemplate]) -> None:
        self._builtin = {t.key: Renderer(t) for t in templates if t.key in BUILTIN_COLUMNS}
        self._custom = [(t.key, Renderer(t)) for t in templates if t.key not in BUILTIN_COLUMNS]
        # Resolved once for all the topics: the renderer of each built-in column pair, in column
        # order (None: no active template, NULLs), and the JSON text of each custom key.
        self._columns = [
            renderer.name_and_description if (renderer := self._builtin.get(key)) else None
            for key in BUILTIN_COLUMNS
        ]
        self._outputs = [(json.dumps(key), renderer.name_and_description) for key, renderer in self._custom]

    def __call__(self, topic: RenderableTopic) -> tuple[str | None, ...]:
        values: list[str | None] = []
        for render in self._columns:
            values += render(topic) if render is not None else (None, None)
        values.append(self._outputs_json(topic))
        return tuple(values)

    def _outputs_json(self, topic: RenderableTopic) -> str:
        """`json.dumps({key: {"name": ..., "description": ...}})` of the custom templates' names, written
        out with json's own string encoder (the same text, without building and walking the dicts)."""
        if not self._outputs:
            return "{}"
        entries = []
        for key, render in self._outputs:
            name, description = render(topic)
            entries.append(
                f'{key}: {{"name": {_json_string(name)}, "description": {_json_string(description)}}}'
            )
        return "{" + ", ".join(entries) + "}"

    def assignments(self) -> list[str]:
        """`ON CONFLICT DO UPDATE` assignments storing the names of the active templates only (a
        template's names are cleared when it stops being active, so the others are NULL already)."""
        columns = [column for key in self._builtin for column in BUILTIN_COLUMNS[key]]
        assigned = [f"{column} = EXCLUDED.{column}" for column in columns]
        if self._custom:
            assigned.append("platform_outputs = topics.platform_outputs || EXCLUDED.platform_outputs")
        return assigned


async def renderable_topics(
    db: Db, org_id: uuid.UUID, topic_ids: Sequence[uuid.UUID] | None, *, after: uuid.UUID | None, limit: int
) -> list[RenderableRow]:
    """A page (in id order) of the org's topics, all of them or those with the given ids."""
    rows = await db.fetch(
        f"""SELECT {_TOPIC_COLUMNS} FROM topics
            WHERE org_id = $1 AND ($2::uuid[] IS NULL OR id = ANY($2)) AND ($3::uuid IS NULL OR id > $3)
            ORDER BY id LIMIT $4""",
        org_id,
        list(topic_ids) if topic_ids is not None else None,
        after,
        limit,
    )
    return [RenderableRow(**dict(row)) for row in rows]


async def store_rendered(
    connection: DbConnection,
    org_id: uuid.UUID,
    templates: Sequence[OutputTemplate],
    topic_ids: Sequence[uuid.UUID] | None,
    batch: int,
) -> int:
    """Render templates onto the org's topics (all, or the given ids), one UPDATE per template and batch.

    Holds one batch in memory at a time, so re-rendering a taxonomy of a million topics is bounded.
    """
    renderers = [(template.key, Renderer(template)) for template in templates]
    rendered, after = 0, None
    while renderers:
        topics = await renderable_topics(connection, org_id, topic_ids, after=after, limit=batch)
        if not topics:
            break
        for key, renderer in renderers:
            await _write(connection, org_id, key, [(t.id, renderer(t)) for t in topics])
        rendered += len(topics)
        after = topics[-1].id
    return rendered


async def _write(
    connection: DbConnection, org_id: uuid.UUID, key: str, segments: list[tuple[uuid.UUID, RenderedSegment]]
) -> None:
    ids = [topic_id for topic_id, _ in segments]
    names = [segment.name for _, segment in segments]
    descriptions = [segment.description for _, segment in segments]
    source = "unnest($2::uuid[], $3::text[], $4::text[]) AS r(id, name, description)"
    if key in BUILTIN_COLUMNS:
        name_column, description_column = BUILTIN_COLUMNS[key]
        await connection.execute(
            f"""UPDATE topics AS t SET {name_column} = r.name, {description_column} = r.description
                FROM {source}
                WHERE t.org_id = $1 AND t.id = r.id
                  AND (t.{name_column}, t.{description_column}) IS DISTINCT FROM (r.name, r.description)""",
            org_id,
            ids,
            names,
            descriptions,
        )
        return
    await connection.execute(
        f"""UPDATE topics AS t
            SET platform_outputs = t.platform_outputs
                || jsonb_build_object($5::text, jsonb_build_object('name', r.name, 'description', r.description))
            FROM {source}
            WHERE t.org_id = $1 AND t.id = r.id
              AND t.platform_outputs -> $5::text
                  IS DISTINCT FROM jsonb_build_object('name', r.name, 'description', r.description)""",
        org_id,
        ids,
        names,
        descriptions,
        key,
    )


async def clear_rendered(connection: DbConnection, org_id: uuid.UUID, key: str) -> None:
    """Forget the names a template rendered (it was deactivated or deleted)."""
    if key in BUILTIN_COLUMNS:
        name_column, description_column = BUILTIN_COLUMNS[key]
        await connection.execute(
            f"""UPDATE topics SET {name_column} = NULL, {description_column} = NULL
                WHERE org_id = $1 AND ({name_column} IS NOT NULL OR {description_column} IS NOT NULL)""",
            org_id,
        )
        return
    await connection.execute(
        "UPDATE topics SET platform_outputs = platform_outputs - $2::text WHERE org_id = $1 AND platform_outputs ? $2",
        org_id,
        key,
    )
