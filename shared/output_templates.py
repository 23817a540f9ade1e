"""Output templates: turn a topic into a platform's segment name and description."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
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


@functools.lru_cache(maxsize=64)
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
    return str(amount.quantize(_quantum(currency), rounding=ROUND_HALF_UP))


@functools.lru_cache(maxsize=64)
def _quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(currency))


_Getter = Callable[[RenderableTopic], list[str]]


def _getter(field: str, currency: str) -> _Getter:
    """How a template reads one field of a topic: the parts it contributes, none when empty.

    Resolved once per template field, so rendering many topics does not re-parse field names.
    """
    field = FIELD_ALIASES.get(field, field)
    if field == "path":
        return lambda topic: [part for part in topic.path if part]
    if field.startswith("attributes."):
        key = field.removeprefix("attributes.")
        return lambda topic: _parts(topic.attributes.get(key))
    if field == "cpm":
        quantum = _quantum(currency)  # format_money's rounding, looked up once per template
        return lambda topic: (
            [str(topic.cpm.quantize(quantum, rounding=ROUND_HALF_UP))]
            if isinstance(topic.cpm, Decimal)
            else _parts(topic.cpm)
        )
    return lambda topic: _parts(getattr(topic, field, None))


def _parts(value: object) -> list[str]:
    return [] if value is None or value == "" else [str(value)]


class _Text:
    """A template string split once into literals and `{{field}}` readers, filled per topic."""

    __slots__ = ("_parts", "_separator", "_single")

    def __init__(self, text: str, separator: str, currency: str) -> None:
        # PLACEHOLDER.split alternates literal, field, literal, ...: odd indexes are field names.
        split = PLACEHOLDER.split(text)
        self._parts = [
            (part, _getter(part, currency) if index % 2 else None) for index, part in enumerate(split)
        ]
        self._separator = separator
        # The common "{{field}}" alone (the default description) skips the join of literals.
        self._single = self._parts[1][1] if len(split) == 3 and not split[0] and not split[2] else None

    def fill(self, topic: RenderableTopic) -> str:
        if self._single is not None:
            return self._separator.join(self._single(topic)).strip()
        return "".join(
            part if getter is None else self._separator.join(getter(topic)) for part, getter in self._parts
        ).strip()


class Renderer:
    """One template parsed once, for rendering many topics (a bulk import, a re-render of the taxonomy)."""

    __slots__ = ("_description", "_name", "_path", "_separator")

    def __init__(self, template: OutputTemplate | None, *, currency: str = DEFAULT_CURRENCY) -> None:
        self._separator = template.separator if template else ""
        self._name = (
            _Text(template.name_template, template.separator, currency)
            if template and template.name_template
            else None
        )
        self._path = [_getter(field, currency) for field in template.path_fields] if template else []
        self._description = _Text(template.description_template, " > ", currency) if template else None

    def __call__(self, topic: RenderableTopic) -> RenderedSegment:
        name, description = self.name_and_description(topic)
        return RenderedSegment(name=name, description=description)

    def name_and_description(self, topic: RenderableTopic) -> tuple[str, str]:
        """The segment's name and description as a pair, for a caller storing many (no object per topic)."""
        if self._description is None:  # no template
            return topic.name, topic.description
        if self._name is not None:
            name = self._name.fill(topic)
        else:
            parts = [part for getter in self._path for part in getter(topic)]
            name = self._separator.join(parts) if parts else topic.name
        return name or topic.name, self._description.fill(topic)


def render(
    template: OutputTemplate | None, topic: RenderableTopic, *, currency: str = DEFAULT_CURRENCY
) -> RenderedSegment:
    """The segment name and description for a topic; without a template, its own name and description.

    Money (`cpm`) is written with the minor units of `currency`, the pushing connection's. For many
    topics, build one `Renderer` and call it on each.
    """
    return Renderer(template, currency=currency)(topic)
