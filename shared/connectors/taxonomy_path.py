"""A topic's place in the taxonomy as the platform clients receive it: its ancestors' names, root first."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Annotated

from pydantic import BeforeValidator

PATH_SEPARATOR = ">"


def _split_text(value: object) -> object:
    # "Automotive > Cars" as well as ["Automotive", "Cars"]: both spellings reach Activator.
    return tuple(part.strip() for part in value.split(PATH_SEPARATOR)) if isinstance(value, str) else value


Ancestors = Annotated[tuple[str, ...], BeforeValidator(_split_text)]
"""The names above a topic, root first, the topic itself excluded; a text path is split on `>`."""


def normalized_name(name: str) -> str:
    """A path segment compared and hashed as people read it: NFC, surrounding and repeated whitespace ignored."""
    return " ".join(unicodedata.normalize("NFC", name).split())


def ancestors_of(path: Sequence[str], name: str) -> tuple[str, ...]:
    """A topic's ancestors from its stored path, which may or may not end with the topic's own name."""
    names = [segment for segment in path if normalized_name(segment)]
    if names and normalized_name(names[-1]) == normalized_name(name):
        names.pop()
    return tuple(names)
