"""Output templates: turn a topic into a platform's segment name and description."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

PLACEHOLDER = re.compile(r"\{\{\s*([a-zA-Z0-9_.]+)\s*\}\}")
TOPIC_FIELDS = frozenset({"name", "parent_category", "path", "description", "external_id", "cpm"})
BUILTIN_KEYS = frozenset({"tradedesk", "liveramp"})


class RenderableTopic(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def parent_category(self) -> str | None: ...
    @property
    def path(self) -> list[str]: ...
    @property
    def description(self) -> str: ...
    @property
    def external_id(self) -> str | None: ...
    @property
    def attributes(self) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class OutputTemplate:
    key: str
    path_fields: list[str]
    separator: str = " > "
    name_template: str | None = None
    description_template: str = "{{description}}"


@dataclass(frozen=True, slots=True)
class RenderedSegment:
    name: str
    description: str


def unknown_fields(fields: Iterable[str]) -> list[str]:
    """The field names a template may not use (validated when the template is saved)."""
    return [
        field
        for field in fields
        if field not in TOPIC_FIELDS
        and not (field.startswith("attributes.") and len(field) > len("attributes."))
    ]


def placeholders(text: str) -> list[str]:
    """The `{{field}}` names used in a template string."""
    return PLACEHOLDER.findall(text)


def _value(topic: RenderableTopic, field: str) -> list[str]:
    if field == "path":
        return [part for part in topic.path if part]
    if field.startswith("attributes."):
        value = topic.attributes.get(field.removeprefix("attributes."))
    else:
        value = getattr(topic, field, None)
    return [] if value is None or value == "" else [str(value)]


def _fill(text: str, topic: RenderableTopic, separator: str) -> str:
    return PLACEHOLDER.sub(lambda match: separator.join(_value(topic, match.group(1))), text).strip()


def render(template: OutputTemplate | None, topic: RenderableTopic) -> RenderedSegment:
    """The segment name and description for a topic; without a template, its own name and description."""
    if template is None:
        return RenderedSegment(name=topic.name, description=topic.description)
    if template.name_template:
        name = _fill(template.name_template, topic, template.separator)
    else:
        parts = [part for field in template.path_fields for part in _value(topic, field)]
        name = template.separator.join(parts) if parts else topic.name
    return RenderedSegment(
        name=name or topic.name, description=_fill(template.description_template, topic, " > ")
    )
