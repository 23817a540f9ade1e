"""Output templates as the API shows them: their fields, checked placeholders, previews and re-renders."""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import AfterValidator, ConfigDict, Field, field_validator, model_validator

from services.gateway.schemas.base import ApiModel
from services.gateway.schemas.topics import TopicInput
from shared.db.output_templates import StoredTemplate
from shared.output_templates import (
    DEFAULT_CURRENCY,
    PLACEHOLDER,
    TEMPLATE_FIELDS,
    placeholders,
    unknown_fields,
)

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


class OutputTemplateOut(StoredTemplate, ApiModel):
    pass


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
