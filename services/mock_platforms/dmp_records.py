"""The DMP's source records: generated deterministically or set, encoded once, served as slices."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

Record = dict[str, Any]

_CATEGORIES = (
    "Automotive",
    "Travel",
    "Sports",
    "Finance",
    "Technology",
    "Health & Fitness",
    "Food & Drink",
    "Home & Garden",
    "Entertainment",
    "Fashion",
    "Education",
    "Parenting",
)
_ADJECTIVES = ("Luxury", "Budget", "Frequent", "Lapsed", "New", "Premium", "Local", "Young", "Affluent")
_AUDIENCES = ("Intenders", "Enthusiasts", "Shoppers", "Fans", "Readers", "Professionals", "Buyers")
_SOURCES = ("first_party", "partner", "modeled")
_COUNTRIES = ("US", "GB", "DE", "FR", "CA")
_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
_VIEW_CACHE_SIZE = 64
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"))


def generate_records(count: int, seed: int) -> list[Record]:
    """`count` records, the same ones for the same seed, ordered by `segment_id`."""
    rng = random.Random(seed)
    records: list[Record] = []
    for index in range(count):
        category = rng.choice(_CATEGORIES)
        adjective = rng.choice(_ADJECTIVES)
        audience = rng.choice(_AUDIENCES)
        updated = _EPOCH + timedelta(seconds=rng.randrange(365 * 86_400))
        records.append(
            {
                "segment_id": f"dmp-{index + 1:07d}",
                "segment_name": f"{adjective} {category} {audience} {index + 1}",
                "category": {"name": category},
                "description": f"{adjective} {audience.lower()} in {category.lower()}",
                "price": {"cpm": round(rng.uniform(0.25, 6.0), 2)},
                "updated_at": updated.isoformat().replace("+00:00", "Z"),
                "attributes": {
                    "source": rng.choice(_SOURCES),
                    "country": rng.choice(_COUNTRIES),
                    "reach": rng.randrange(1_000, 5_000_000),
                },
            }
        )
    return records


def parse_timestamp(text: str) -> datetime:
    """An ISO-8601 instant; a naive one is taken as UTC."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _field_text(record: Record, path: str) -> str | None:
    value: Any = record
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class RecordQuery:
    """Which records a request asks for: field equality filters and an `updated_since` mark."""

    filters: tuple[tuple[str, str], ...] = ()
    updated_since: datetime | None = None

    @property
    def selects_all(self) -> bool:
        return not self.filters and self.updated_since is None


class DmpDataset:
    """Records with their JSON encodings; filtered views are computed once and cached."""

    def __init__(self, records: list[Record]) -> None:
        self.records = records
        self.encoded = [_COMPACT_JSON.encode(record).encode() for record in records]
        self._updated_at: list[datetime | None] | None = None
        self._views: dict[RecordQuery, list[bytes]] = {}

    def __len__(self) -> int:
        return len(self.records)

    def view(self, query: RecordQuery) -> Sequence[bytes]:
        """The encoded records matching the query, in dataset order."""
        if query.selects_all:
            return self.encoded
        cached = self._views.get(query)
        if cached is None:
            if len(self._views) >= _VIEW_CACHE_SIZE:
                self._views.clear()
            cached = [self.encoded[i] for i in self._matching_indexes(query)]
            self._views[query] = cached
        return cached

    def truncate(self, remove: int) -> None:
        """Drop the last `remove` records (the `shrink_by` fault)."""
        keep = max(0, len(self.records) - remove)
        self.records = self.records[:keep]
        self.encoded = self.encoded[:keep]
        if self._updated_at is not None:
            self._updated_at = self._updated_at[:keep]
        self._views.clear()

    def _matching_indexes(self, query: RecordQuery) -> list[int]:
        indexes: Sequence[int] = range(len(self.records))
        if query.updated_since is not None:
            mark = query.updated_since
            updated = self._updated_at_list()
            indexes = [i for i in indexes if (moment := updated[i]) is not None and moment > mark]
        for path, wanted in query.filters:
            indexes = [i for i in indexes if _field_text(self.records[i], path) == wanted]
        return list(indexes)

    def _updated_at_list(self) -> list[datetime | None]:
        if self._updated_at is None:
            parsed: list[datetime | None] = []
            for record in self.records:
                try:
                    parsed.append(parse_timestamp(str(record["updated_at"])))
                except (KeyError, ValueError):
                    parsed.append(None)
            self._updated_at = parsed
        return self._updated_at
