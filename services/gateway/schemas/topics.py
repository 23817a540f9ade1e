"""Topics as the API shows them, the bulk import's shapes, and a topic's activations on a connection."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator

from services.gateway.schemas.base import ApiModel
from shared.db.activations import ActivationView


class TopicInput(ApiModel):
    name: str = Field(min_length=1, max_length=500)
    parent_category: str | None = Field(default=None, max_length=500)
    path: list[str] = Field(default_factory=list, max_length=20)
    description: str = Field(default="", max_length=5000)
    external_id: str | None = Field(default=None, min_length=1, max_length=255)
    cpm: Decimal | None = Field(default=None, ge=0, max_digits=12, decimal_places=4)
    attributes: dict[str, Any] = Field(default_factory=dict)

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Auto Intenders",
                    "parentCategory": "Automotive",
                    "path": ["Automotive", "Auto Intenders"],
                    "description": "People shopping for a car",
                    "externalId": "auto-001",
                    "cpm": 1.75,
                }
            ]
        }
    )

    @property
    def source_connection_id(self) -> None:
        """A topic sent to the API comes from no sync connection (a bulk import writes it as it is)."""
        return None


class RenderedSegmentOut(ApiModel):
    name: str
    description: str


class TopicOut(ApiModel):
    id: uuid.UUID
    name: str
    parent_category: str | None
    path: list[str]
    description: str
    external_id: str | None
    source_connection_id: uuid.UUID | None
    cpm: Decimal | None
    attributes: dict[str, Any]
    status: Literal["active", "deleted"]
    outputs: dict[str, RenderedSegmentOut] = Field(
        default_factory=dict,
        description="Segment name and description rendered by each active output template, by key",
    )
    created_at: datetime
    updated_at: datetime


class TopicPage(ApiModel):
    items: list[TopicOut]
    next_cursor: str | None


class BulkTopicsInput(ApiModel):
    topics: list[TopicInput] = Field(min_length=1, max_length=10_000)

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "topics": [
                        {"name": "Auto Intenders", "path": ["Automotive"], "externalId": "auto-001"},
                        {
                            "name": "Luxury Cars",
                            "path": ["Automotive", "Auto Intenders"],
                            "externalId": "auto-002",
                        },
                    ]
                }
            ]
        }
    )

    @field_validator("topics")
    @classmethod
    def _unique_external_ids(cls, topics: list[TopicInput]) -> list[TopicInput]:
        seen: set[str] = set()
        for index, topic in enumerate(topics):
            if topic.external_id is None:
                continue
            if topic.external_id in seen:
                msg = f"topics[{index}].externalId {topic.external_id!r} appears more than once"
                raise ValueError(msg)
            seen.add(topic.external_id)
        return topics


class BulkTopicsOut(ApiModel):
    created: int
    updated: int


class ActivationOut(ActivationView, ApiModel):
    pass


class ActivationPage(ApiModel):
    items: list[ActivationOut]
    next_cursor: str | None
