"""Stored output templates (per org, by key)."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from shared.output_templates import OutputTemplate


async def active_template(db: asyncpg.Pool[Any], org_id: uuid.UUID, key: str) -> OutputTemplate | None:
    """The org's active template with this key, or None."""
    row = await db.fetchrow(
        """SELECT key, path_fields, separator, name_template, description_template FROM output_templates
           WHERE org_id = $1 AND key = $2 AND active""",
        org_id,
        key,
    )
    return OutputTemplate(**dict(row)) if row else None
