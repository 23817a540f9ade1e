"""Field mappings: one source record becomes the fields of a topic, or an invalid record with the reason."""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from shared.inbound.config import InboundConfig
from shared.inbound.paths import MISSING, resolve

MAX_NAME = 500
MAX_DESCRIPTION = 5000
MAX_SOURCE_ID = 255
MAX_PATH_DEPTH = 20
MAX_CPM = Decimal("99999999.9999")  # numeric(12, 4)
_CPM_STEP = Decimal("0.0001")
PATH_SEPARATOR = ">"


@dataclass(frozen=True, slots=True)
class TopicContent:
    """What a source owns of a topic: a synced topic with the same content as its record is unchanged."""

    name: str
    parent_category: str | None
    path: tuple[str, ...]
    description: str
    cpm: Decimal | None
    attributes: dict[str, Any]

    def same_content(self, other: TopicContent) -> bool:
        """Whether every field the source owns is equal in both."""
        return all(getattr(self, name) == getattr(other, name) for name in _CONTENT)


_CONTENT = tuple(field.name for field in fields(TopicContent))


@dataclass(frozen=True, slots=True)
class MappedTopic(TopicContent):
    """A record's topic fields; `source_id` becomes the topic's external id."""

    source_id: str


@dataclass(frozen=True, slots=True)
class InvalidRecord:
    """A record that cannot become a topic, kept with its position in the page and its payload."""

    position: int
    source_id: str | None
    reason: str
    payload: Any


class RecordInvalid(ValueError):
    """Why a record cannot become a topic."""


def _has_nul(value: object) -> bool:
    # Postgres text and jsonb refuse U+0000; such a record would fail the whole page's transaction.
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


def _text(value: object, what: str, limit: int) -> str | None:
    if value is MISSING or value is None:
        return None
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str | int | float):
        text = str(value)
    else:
        raise RecordInvalid(f"{what} is not text (got {type(value).__name__})")
    if _has_nul(text):
        raise RecordInvalid(f"{what} contains a NUL character")
    if len(text) > limit:
        raise RecordInvalid(f"{what} is longer than {limit} characters")
    return text


def _cpm(value: object) -> Decimal | None:
    if value is MISSING or value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise RecordInvalid(f"cpm is not a number (got {type(value).__name__})")
    try:
        # Rounded the way numeric(12, 4) stores it, so the next run compares equal.
        cpm = Decimal(str(value)).quantize(_CPM_STEP, rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise RecordInvalid(f"cpm {value!r} is not a number") from None
    if not cpm.is_finite() or cpm < 0 or cpm > MAX_CPM:
        raise RecordInvalid(f"cpm {value!r} is outside 0..{MAX_CPM}")
    return cpm


def _ancestors(value: object) -> tuple[str, ...]:
    if value is MISSING or value is None:
        return ()
    parts: list[object]
    if isinstance(value, str):
        parts = list(value.split(PATH_SEPARATOR))
    elif isinstance(value, list):
        parts = list(value)
    else:
        raise RecordInvalid(f"path is neither a list nor text (got {type(value).__name__})")
    names = [_text(part, "a path element", MAX_NAME) for part in parts]
    cleaned = tuple(name.strip() for name in names if name and name.strip())
    if len(cleaned) >= MAX_PATH_DEPTH:
        raise RecordInvalid(f"path is deeper than {MAX_PATH_DEPTH} levels")
    return cleaned


class RecordMapper:
    """Applies a connection's field mappings and source id field to source records."""

    def __init__(self, config: InboundConfig) -> None:
        self._source_id_field = config.source_id_field
        self._sources: dict[str, str] = {}
        self._attributes: dict[str, str] = {}
        for mapping in config.field_mappings:
            if mapping.target.startswith("attributes."):
                self._attributes[mapping.target.removeprefix("attributes.")] = mapping.source
            else:
                self._sources[mapping.target] = mapping.source

    def map_page(self, items: list[Any]) -> list[MappedTopic | InvalidRecord]:
        """Every record of a page, in order."""
        return [self.map(position, record) for position, record in enumerate(items)]

    def map(self, position: int, record: object) -> MappedTopic | InvalidRecord:
        """The record's topic fields, or why it is invalid."""
        source_id: str | None = None
        try:
            source_id = self.source_id(record)
            return self._topic(record, source_id)
        except RecordInvalid as exc:
            return InvalidRecord(position, source_id, str(exc), record)

    def source_id(self, record: object) -> str:
        """The record's source id (raises RecordInvalid when it has none usable)."""
        if not isinstance(record, dict):
            raise RecordInvalid(f"the record is not an object (got {type(record).__name__})")
        value = resolve(record, self._source_id_field)
        if isinstance(value, bool) or not isinstance(value, str | int):
            shown = "missing" if value is MISSING else f"not text or an integer ({type(value).__name__})"
            raise RecordInvalid(f"source id {self._source_id_field!r} is {shown}")
        text = _text(value, "the source id", MAX_SOURCE_ID)
        if not text:
            raise RecordInvalid(f"source id {self._source_id_field!r} is empty")
        return text

    def _field(self, record: object, target: str) -> object:
        source = self._sources.get(target)
        return MISSING if source is None else resolve(record, source)

    def _topic(self, record: object, source_id: str) -> MappedTopic:
        name = (_text(self._field(record, "topic_name"), "topic_name", MAX_NAME) or "").strip()
        if not name:
            raise RecordInvalid(f"topic_name ({self._sources['topic_name']!r}) is missing or empty")
        external_id = _text(self._field(record, "external_id"), "external_id", MAX_SOURCE_ID)
        if external_id is not None and external_id != source_id:
            raise RecordInvalid(f"external_id {external_id!r} differs from the source id {source_id!r}")
        parent = (_text(self._field(record, "parent_category"), "parent_category", MAX_NAME) or "").strip()
        # The topic's place in the taxonomy: the mapped path, else its parent category, then itself.
        ancestors = _ancestors(self._field(record, "path"))
        if ancestors and ancestors[-1] == name:
            ancestors = ancestors[:-1]
        if not ancestors and parent:
            ancestors = (parent,)
        attributes = {key: resolve(record, source) for key, source in self._attributes.items()}
        attributes = {key: value for key, value in attributes.items() if value is not MISSING}
        if _has_nul(attributes):
            raise RecordInvalid("an attribute contains a NUL character")
        return MappedTopic(
            source_id=source_id,
            name=name,
            parent_category=parent or (ancestors[-1] if ancestors else None),
            path=(*ancestors, name),
            description=_text(self._field(record, "description"), "description", MAX_DESCRIPTION) or "",
            cpm=_cpm(self._field(record, "cpm")),
            attributes=attributes,
        )
