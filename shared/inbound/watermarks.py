"""High-water marks of `incremental_field`: compared as instants, numbers or text, kept as the source wrote them."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from shared.inbound.paths import resolve


def mark_key(value: str) -> tuple[int, Any]:
    """Sort key of a mark: ISO-8601 instants before numbers before plain text, each in its own order."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        pass
    else:
        return (0, moment if moment.tzinfo else moment.replace(tzinfo=UTC))
    try:
        number = Decimal(value)
    except InvalidOperation:
        return (2, value)
    return (1, number) if number.is_finite() else (2, value)


def later(first: str | None, second: str | None) -> str | None:
    """The later of two marks (None means none yet)."""
    if first is None:
        return second
    if second is None:
        return first
    return second if mark_key(second) > mark_key(first) else first


def page_mark(items: list[Any], field: str) -> str | None:
    """The largest `field` value among the page's records (records without one are ignored)."""
    mark: str | None = None
    for record in items:
        value = resolve(record, field)
        if isinstance(value, str) and value:
            mark = later(mark, value)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            mark = later(mark, str(value))
    return mark
