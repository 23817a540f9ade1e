"""Output templates: turn a topic into a platform's segment name and description."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol

from iso4217 import Currency

PLACEHOLDER = re.compile(r"\{\{\s*([a-zA-Z0-9_.]+)\s*\}\}")
TOPIC_FIELDS = frozenset({"name", "parent_category", "path", "description", "external_id", "cpm"})
# The guide's names for topic fields (its field_mappings targets), accepted beside the topic's own.
FIELD_ALIASES = {"topic_name": "name"}
TEMPLATE_FIELDS = TOPIC_FIELDS | FIELD_ALIASES.keys()
BUILTIN_KEYS = frozenset({"tradedesk", "liveramp"})
# Stored names and previews have no connection, hence no currency: they render money as USD would.
DEFAULT_CURRENCY = "USD"
_FALLBACK_MINOR_UNITS = 2


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
    def cpm(self) -> Decimal | None: ...
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
        if field not in TEMPLATE_FIELDS
        and not (field.startswith("attributes.") and len(field) > len("attributes."))
    ]


def placeholders(text: str) -> list[str]:
    """The `{{field}}` names used in a template string."""
    return PLACEHOLDER.findall(text)


def minor_units(currency: str) -> int:
    """The digits after the decimal point of a currency's amounts (ISO 4217; 2 for codes it has none for)."""
    try:
        exponent = Currency(currency.upper()).exponent
    except ValueError:
        return _FALLBACK_MINOR_UNITS
    # Codes without minor units in ISO 4217 (gold, test codes) are not money a platform prices in.
    return _FALLBACK_MINOR_UNITS if exponent is None else exponent


def format_money(amount: Decimal, currency: str) -> str:
    """An amount as written in a currency: `1.50` for USD, `150` for JPY, rounded half up."""
    return str(amount.quantize(Decimal(1).scaleb(-minor_units(currency)), rounding=ROUND_HALF_UP))


def _value(topic: RenderableTopic, field: str, currency: str) -> list[str]:
    field = FIELD_ALIASES.get(field, field)
    if field == "path":
        return [part for part in topic.path if part]
    if field.startswith("attributes."):
        value = topic.attributes.get(field.removeprefix("attributes."))
    else:
        value = getattr(topic, field, None)
    if field == "cpm" and isinstance(value, Decimal):
        return [format_money(value, currency)]
    return [] if value is None or value == "" else [str(value)]


def _fill(text: str, topic: RenderableTopic, separator: str, currency: str) -> str:
    return PLACEHOLDER.sub(
        lambda match: separator.join(_value(topic, match.group(1), currency)), text
    ).strip()


def render(
    template: OutputTemplate | None, topic: RenderableTopic, *, currency: str = DEFAULT_CURRENCY
) -> RenderedSegment:
    """The segment name and description for a topic; without a template, its own name and description.

    Money (`cpm`) is written with the minor units of `currency`, the pushing connection's.
    """
    if template is None:
        return RenderedSegment(name=topic.name, description=topic.description)
    if template.name_template:
        name = _fill(template.name_template, topic, template.separator, currency)
    else:
        parts = [part for field in template.path_fields for part in _value(topic, field, currency)]
        name = template.separator.join(parts) if parts else topic.name
    return RenderedSegment(
        name=name or topic.name, description=_fill(template.description_template, topic, " > ", currency)
    )
