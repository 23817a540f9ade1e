"""The gateway's JSON shapes (camelCase on the wire, as in the seed)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from shared.messages import MAX_TOPIC_IDS_PER_RUN
from shared.output_templates import (
    DEFAULT_CURRENCY,
    PLACEHOLDER,
    TEMPLATE_FIELDS,
    placeholders,
    unknown_fields,
)

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


class LastRunOut(ApiModel):
    id: uuid.UUID
    kind: Literal["push", "sync"]
    status: str
    finished_at: datetime | None


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
    last_run: LastRunOut | None = Field(default=None, description="The connection's newest run")
    last_success_at: datetime | None = Field(
        default=None, description="When the connection's newest succeeded run finished"
    )


class ConnectionCheckOut(ApiModel):
    direction: Literal["inbound", "outbound"]
    success: bool
    error: str | None = None


class ConnectionTestOut(ApiModel):
    """The guide's `{success, error}`; `checks` reports each direction of a bidirectional connection."""

    success: bool
    error: str | None = None
    checks: list[ConnectionCheckOut] = Field(default_factory=list)


class RunRequest(ApiModel):
    topic_ids: list[uuid.UUID] | None = Field(default=None, max_length=MAX_TOPIC_IDS_PER_RUN)
    dry_run: bool = False
    mode: Literal["auto", "step"] = "auto"

    model_config = ConfigDict(json_schema_extra={"examples": [{"dryRun": False, "mode": "auto"}]})


class SyncRunRequest(ApiModel):
    mode: Literal["auto", "step"] = "auto"

    model_config = ConfigDict(json_schema_extra={"examples": [{"mode": "auto"}]})


class RunAccepted(ApiModel):
    run_id: uuid.UUID
    status: str
    total: int = Field(description="Topics to push, or the source's count once `countStatus` is counted")
    count_status: Literal["counted", "pending", "none"] | None = Field(
        default=None,
        description="counted: `total` is known; pending: the sync's count endpoint has not answered yet "
        "(read `total` from the status); none: the connection has no count endpoint",
    )


class RunErrorOut(ApiModel):
    item_id: str | None
    code: str
    message: str
    attempt: int
    at: datetime


class RunSummaryOut(ApiModel):
    """A run as history lists show it: the status document without `errors`."""

    run_id: uuid.UUID
    connection_id: uuid.UUID
    kind: Literal["push", "sync"]
    status: str
    done: bool = Field(description="The run has reached its final status; the guide's loop ends here")
    status_reason: str | None
    mode: Literal["auto", "step"]
    dry_run: bool
    total: int
    processed: int
    succeeded: int
    failed: int
    skipped: int
    error_count: int
    throttled_until: datetime | None
    parent_run_id: uuid.UUID | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    inserted: int | None = None
    updated: int | None = None
    unchanged: int | None = None
    invalid: int | None = None
    pages: int | None = None


class RunStatusOut(RunSummaryOut):
    errors: list[RunErrorOut]


class RunPage(ApiModel):
    items: list[RunSummaryOut]
    next_cursor: str | None


ItemOutcomeName = Literal[
    "created", "updated", "unchanged", "deactivated", "planned", "failed", "skipped", "inserted", "invalid"
]
"""Outcomes of push items and of sync records (the filter of GET /api/runs/{runId}/items)."""


class RunItemOut(ApiModel):
    """One item's result in a run; the CSV of the items has these fields as its columns, in this order."""

    item_id: str = Field(description="The topic id (push runs) or the rejected record's number (sync runs)")
    topic_id: uuid.UUID | None
    external_id: str | None
    outcome: str
    planned_action: str | None = Field(description="Dry runs: create, update, deactivate or unchanged")
    segment_name: str | None
    platform_segment_id: str | None
    error_class: str | None = Field(
        description="retryable, permanent, auth, rate_limited, unknown or invalid"
    )
    error_code: str | None = Field(description="As in the run's errors, e.g. `permanent:400`")
    error_message: str | None
    attempts: int = Field(description="Platform calls made for a failed item, retries included")
    at: datetime


class RunItemPage(ApiModel):
    items: list[RunItemOut]
    next_cursor: str | None


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


class ActivationOut(ApiModel):
    topic_id: uuid.UUID
    topic_name: str
    platform_segment_id: str | None
    state: str
    state_message: str | None
    last_outcome: str | None
    last_run_id: uuid.UUID | None
    last_pushed_at: datetime


class ActivationPage(ApiModel):
    items: list[ActivationOut]
    next_cursor: str | None


class SyncRejectOut(ApiModel):
    page: int
    position: int = Field(description="0-based index of the record in its page")
    source_id: str | None
    reason: str
    payload: Any = Field(
        description="The record as the source sent it (text when it was cut to the size limit)"
    )
    at: datetime


class SyncRejectPage(ApiModel):
    items: list[SyncRejectOut]
    next_cursor: str | None


TEMPLATE_KEY_PATTERN = r"^[a-z0-9_][a-z0-9_-]{0,62}$"
ALLOWED_FIELDS = ", ".join([*sorted(TEMPLATE_FIELDS), "attributes.<key>"])


def _known_placeholders(text: str) -> str:
    unknown = unknown_fields(placeholders(text))
    if unknown:
        msg = f"unknown placeholder {{{{{unknown[0]}}}}}; allowed: {ALLOWED_FIELDS}"
        raise ValueError(msg)
    if "{{" in PLACEHOLDER.sub("", text) or "}}" in PLACEHOLDER.sub("", text):
        msg = "malformed placeholder: write {{field}} with a field name of letters, digits, _ and ."
        raise ValueError(msg)
    return text


TemplateText = Annotated[str, AfterValidator(_known_placeholders)]


class OutputTemplateUpdate(ApiModel):
    """A template's fields; `active` omitted keeps the current state."""

    path_fields: list[str] = Field(default_factory=list, max_length=20)
    separator: str = Field(default=" > ", max_length=20)
    name_template: TemplateText | None = Field(default=None, min_length=1, max_length=1000)
    description_template: TemplateText = Field(default="{{description}}", max_length=5000)
    active: bool | None = None

    @field_validator("path_fields")
    @classmethod
    def _known_path_fields(cls, path_fields: list[str]) -> list[str]:
        unknown = unknown_fields(path_fields)
        if unknown:
            msg = f"unknown path field {unknown[0]!r}; allowed: {ALLOWED_FIELDS}"
            raise ValueError(msg)
        return path_fields

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "pathFields": ["path", "name"],
                    "separator": " > ",
                    "descriptionTemplate": "{{description}} (CPM {{cpm}})",
                    "active": True,
                }
            ]
        }
    )


class OutputTemplateInput(OutputTemplateUpdate):
    """A new template; built-in keys `tradedesk` and `liveramp` keep names in their own topic columns."""

    key: str = Field(pattern=TEMPLATE_KEY_PATTERN)

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "key": "acme",
                    "pathFields": ["parent_category", "name"],
                    "separator": " | ",
                    "nameTemplate": None,
                    "descriptionTemplate": "{{description}} ({{attributes.source}})",
                    "active": True,
                }
            ]
        }
    )


class OutputTemplateOut(ApiModel):
    key: str
    path_fields: list[str]
    separator: str
    name_template: str | None
    description_template: str
    active: bool
    created_at: datetime
    updated_at: datetime


class TemplatePreviewInput(ApiModel):
    """Render over stored topics (`topicIds`) or over topics given inline (`topics`): one of the two."""

    topic_ids: list[uuid.UUID] | None = Field(default=None, min_length=1, max_length=1000)
    topics: list[TopicInput] | None = Field(default=None, min_length=1, max_length=1000)
    currency: str = Field(
        default=DEFAULT_CURRENCY,
        pattern=r"^[A-Z]{3}$",
        description="Whose minor units `{{cpm}}` is written with, as a connection with this `currency` pushes it",
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> TemplatePreviewInput:
        if (self.topic_ids is None) == (self.topics is None):
            msg = "give exactly one of topicIds and topics"
            raise ValueError(msg)
        return self

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"topicIds": ["0b7f6c3e-8a51-4a35-9a57-5f1f2b9d6c11"]},
                {
                    "topics": [
                        {"name": "Auto Intenders", "path": ["Automotive"], "description": "Car shoppers"}
                    ]
                },
            ]
        }
    )


class PreviewItemOut(ApiModel):
    topic_id: uuid.UUID | None
    external_id: str | None
    name: str
    description: str


class TemplatePreviewOut(ApiModel):
    key: str
    items: list[PreviewItemOut]


class TemplateRenderOut(ApiModel):
    key: str
    rendered: int = Field(description="Topics whose stored name and description were rendered again")


class RunViewTokenOut(ApiModel):
    token: str = Field(description="Pass as `?token=` to /api/runs/{runId}/events or /api/runs/{runId}")
    expires_at: datetime
    url: str = Field(description="The live status page of the run, path relative to the gateway")
