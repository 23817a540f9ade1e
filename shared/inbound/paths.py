"""Paths into JSON documents: dotted (`data.items`, `meta.0.total`) or JSONPath (`$.data.items[0]`).

JSONPath text is parsed by python-jsonpath (RFC 9535); only singular queries (names and indexes, one
value) are paths here. Both forms become the same steps, walked by `resolve`.
"""

from __future__ import annotations

import functools
from enum import Enum
from typing import Annotated, Any

import jsonpath
from jsonpath.selectors import IndexSelector, NameSelector
from pydantic import AfterValidator


class Missing(Enum):
    """What a path resolves to when the document has nothing there."""

    MISSING = "missing"


MISSING = Missing.MISSING

# A str step is an object key (a dotted path's numeric part also indexes a list); an int step a list index.
Step = str | int


class InvalidPath(ValueError):
    """Text that is neither a dotted path nor a singular JSONPath query."""


class PathNotFound(LookupError):
    """A path that does not lead anywhere in the document; the message says where it stopped."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path!r} not found: {reason}")
        self.path = path
        self.reason = reason


@functools.lru_cache(maxsize=4096)
def parse_path(path: str) -> tuple[Step, ...]:
    """The steps of a path; the empty path (and `$`) is the document itself. InvalidPath when malformed."""
    if not path.startswith("$"):
        parts = tuple(path.split(".")) if path else ()
        if "" in parts:
            raise InvalidPath("a dotted path has no empty parts (e.g. data.items, meta.0.total)")
        return parts
    try:
        query = jsonpath.compile(path)
    except jsonpath.JSONPathError as exc:
        raise InvalidPath(f"not a valid JSONPath: {str(exc).splitlines()[0]}") from None
    if not isinstance(query, jsonpath.JSONPath) or not query.singular_query():
        raise InvalidPath("a JSONPath here must select one value (names and indexes only, e.g. $.data.items)")
    steps: list[Step] = []
    for segment in query.segments:
        for selector in segment.selectors:  # singular: exactly one name or index per segment
            if isinstance(selector, NameSelector):
                steps.append(selector.name)
            elif isinstance(selector, IndexSelector):
                steps.append(selector.index)
    return tuple(steps)


def _checked(path: str) -> str:
    parse_path(path)
    return path


# A config field holding a path: checked when the config is validated, kept as written.
DocumentPath = Annotated[str, AfterValidator(_checked)]


def _kind(value: object) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    return "null" if value is None else type(value).__name__


def _step(value: object, step: Step) -> tuple[bool, Any]:
    if isinstance(value, dict):
        return (step in value, value.get(step)) if isinstance(step, str) else (False, None)
    if isinstance(value, list) and (isinstance(step, int) or step.isdigit()):
        index = int(step)
        inside = -len(value) <= index < len(value)
        return (inside, value[index] if inside else None)
    return (False, None)


def _shown(step: Step) -> str:
    return f"[{step}]" if isinstance(step, int) else repr(step)


def resolve_or_raise(document: object, path: str) -> Any:
    """The value at `path`, or PathNotFound naming the first step that is not there."""
    value: Any = document
    walked: list[str] = []
    for step in parse_path(path):
        found, child = _step(value, step)
        if not found:
            where = ".".join(walked) or "the document"
            raise PathNotFound(path, f"no {_shown(step)} in {where} ({_kind(value)})")
        walked.append(str(step))
        value = child
    return value


def resolve(document: object, path: str) -> Any:
    """The value at `path`, or MISSING."""
    # Walked without the trail resolve_or_raise keeps for its message: a sync resolves every mapped
    # field of every record.
    value: Any = document
    for step in parse_path(path):
        if type(value) is dict and type(step) is str:  # what JSON gives, the common step, inline
            if step not in value:
                return MISSING
            value = value[step]
            continue
        found, value = _step(value, step)
        if not found:
            return MISSING
    return value
