"""Dotted paths into JSON documents (`data.items`, `meta.0.total`): numeric parts index lists."""

from __future__ import annotations

from enum import Enum
from typing import Any


class Missing(Enum):
    """What a path resolves to when the document has nothing there."""

    MISSING = "missing"


MISSING = Missing.MISSING


class PathNotFound(LookupError):
    """A path that does not lead anywhere in the document; the message says where it stopped."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path!r} not found: {reason}")
        self.path = path
        self.reason = reason


def split_path(path: str) -> tuple[str, ...]:
    """The parts of a dotted path; the empty path is the document itself."""
    return tuple(path.split(".")) if path else ()


def _kind(value: object) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    return "null" if value is None else type(value).__name__


def _step(value: object, part: str) -> tuple[bool, Any]:
    if isinstance(value, dict):
        return (part in value, value.get(part))
    if isinstance(value, list) and part.isdigit():
        index = int(part)
        return (index < len(value), value[index] if index < len(value) else None)
    return (False, None)


def resolve_or_raise(document: object, path: str) -> Any:
    """The value at `path`, or PathNotFound naming the first part that is not there."""
    value: Any = document
    walked: list[str] = []
    for part in split_path(path):
        found, child = _step(value, part)
        if not found:
            where = ".".join(walked) or "the document"
            raise PathNotFound(path, f"no {part!r} in {where} ({_kind(value)})")
        walked.append(part)
        value = child
    return value


def resolve(document: object, path: str) -> Any:
    """The value at `path`, or MISSING."""
    try:
        return resolve_or_raise(document, path)
    except PathNotFound:
        return MISSING
