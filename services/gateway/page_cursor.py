"""Opaque page cursors: the position a keyset page ended at, as a URL-safe token."""

from __future__ import annotations

import base64
import json
from typing import Any

from services.gateway.problems import Problem


def encode_cursor(position: dict[str, Any]) -> str:
    """A token for `position` (JSON values) that the next request passes back as `cursor`."""
    text = json.dumps(position, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, keys: frozenset[str]) -> dict[str, Any]:
    """The position a token names; a 422 problem for anything this endpoint did not hand out."""
    try:
        position = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError:
        position = None
    if not isinstance(position, dict) or set(position) != keys:
        raise cursor_problem()
    return position


def cursor_problem() -> Problem:
    """The 422 for a cursor this list did not hand out."""
    return Problem(
        422,
        "Validation failed",
        "cursor is not valid",
        errors=[{"field": "cursor", "message": "not a cursor of this list"}],
    )
