"""Configs and a scripted source API for the inbound engine's unit tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from shared.inbound.config import InboundConfig

DMP_MAPPINGS = [
    {"source": "segment_name", "target": "topic_name"},
    {"source": "category.name", "target": "parent_category"},
    {"source": "description", "target": "description"},
    {"source": "price.cpm", "target": "cpm"},
    {"source": "attributes.country", "target": "attributes.country"},
]


def inbound_config(**overrides: Any) -> InboundConfig:
    """The mock DMP's offset listing, as a connection would configure it."""
    values: dict[str, Any] = {
        "base_url": "https://dmp.example/api/v1/segments",
        "response_path": "data.items",
        "count_endpoint": "/api/v1/segments/count",
        "count_response_path": "meta.0.total",
        "pagination_type": "offset",
        "pagination_params": {"offset_param": "offset", "limit_param": "limit", "page_size": 2},
        "field_mappings": DMP_MAPPINGS,
        "source_id_field": "segment_id",
    }
    values.update(overrides)
    return InboundConfig.model_validate(values)


def dmp_record(index: int, **changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "segment_id": f"dmp-{index:04d}",
        "segment_name": f"Segment {index}",
        "category": {"name": "Travel"},
        "description": f"About {index}",
        "price": {"cpm": 1.5},
        "updated_at": f"2024-01-{index % 28 + 1:02d}T00:00:00Z",
        "attributes": {"country": "US", "reach": index},
    }
    record.update(changes)
    return record


class SourceApi:
    """An httpx transport answering with a function of the request; remembers every request."""

    def __init__(self, answer: Callable[[httpx.Request], httpx.Response]) -> None:
        self.requests: list[httpx.Request] = []
        self._answer = answer
        self.transport = httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self._answer(request)
