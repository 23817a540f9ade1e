"""The gateway's JSON shapes (camelCase on the wire, as in the seed)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

Platform = Literal["custom_api", "indexexchange", "liveramp", "tradedesk"]
Direction = Literal["inbound", "outbound", "bidirectional"]
AuthType = Literal["oauth2", "bearer", "api_key", "header", "none"]


class ApiModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class ConnectionInput(ApiModel):
    name: str = Field(min_length=1, max_length=200)
    platform: Platform
    direction: Direction
    auth_type: AuthType
    auth_credentials: dict[str, str] | None = None
    config: dict[str, Any]
    enabled: bool = True

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Acme REST",
                    "platform": "custom_api",
                    "direction": "outbound",
                    "authType": "api_key",
                    "authCredentials": {"api_key": "…"},
                    "config": {
                        "api_base_url": "https://api.example.com",
                        "default_cpm": 2.5,
                        "currency": "USD",
                    },
                }
            ]
        }
    )


class ConnectionOut(ApiModel):
    id: uuid.UUID
    name: str
    platform: Platform
    direction: Direction
    auth_type: AuthType
    config: dict[str, Any]
    enabled: bool
    has_credentials: bool
    created_at: datetime
    updated_at: datetime


class ConnectionTestOut(ApiModel):
    success: bool
    error: str | None = None


class RunRequest(ApiModel):
    topic_ids: list[uuid.UUID] | None = Field(default=None, max_length=10_000)
    dry_run: bool = False
    mode: Literal["auto", "step"] = "auto"

    model_config = ConfigDict(json_schema_extra={"examples": [{"dryRun": False, "mode": "auto"}]})


class SyncRunRequest(ApiModel):
    mode: Literal["auto", "step"] = "auto"


class RunAccepted(ApiModel):
    run_id: uuid.UUID
    status: str
    total: int


class RunErrorOut(ApiModel):
    item_id: str | None
    code: str
    message: str
    attempt: int
    at: datetime


class RunStatusOut(ApiModel):
    run_id: uuid.UUID
    connection_id: uuid.UUID
    kind: Literal["push", "sync"]
    status: str
    status_reason: str | None
    mode: Literal["auto", "step"]
    dry_run: bool
    total: int
    processed: int
    succeeded: int
    failed: int
    skipped: int
    error_count: int
    errors: list[RunErrorOut]
    throttled_until: datetime | None
    parent_run_id: uuid.UUID | None
    started_at: datetime | None
    finished_at: datetime | None
    inserted: int | None = None
    updated: int | None = None
    unchanged: int | None = None
    invalid: int | None = None
    pages: int | None = None


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
    created_at: datetime
    updated_at: datetime


class TopicPage(ApiModel):
    items: list[TopicOut]
    next_cursor: str | None


class BulkTopicsInput(ApiModel):
    topics: list[TopicInput] = Field(min_length=1, max_length=10_000)

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


class ActivationOut(ApiModel):
    topic_id: uuid.UUID
    topic_name: str
    platform_segment_id: str | None
    state: str
    last_outcome: str | None
    last_run_id: uuid.UUID | None
    last_pushed_at: datetime


class ActivationPage(ApiModel):
    items: list[ActivationOut]
    next_cursor: str | None
