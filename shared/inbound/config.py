"""The seed's InboundConfig: how to page through an external API and map its records to topics."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

TOPIC_TARGETS = frozenset({"topic_name", "parent_category", "external_id", "description", "cpm", "path"})


class PaginationParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    offset_param: str = "offset"
    limit_param: str | None = "limit"
    page_size: int = Field(default=100, ge=1, le=10_000)
    cursor_param: str = "cursor"
    cursor_response_path: str | None = None


class FieldMapping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str = Field(min_length=1)
    target: str

    @model_validator(mode="after")
    def _known_target(self) -> FieldMapping:
        if self.target not in TOPIC_TARGETS and not self.target.startswith("attributes."):
            msg = f"target must be one of {sorted(TOPIC_TARGETS)} or attributes.<key>, not {self.target!r}"
            raise ValueError(msg)
        return self


class InboundConfig(BaseModel):
    """Validated config of an inbound (sync) connection."""

    model_config = ConfigDict(extra="allow")

    base_url: str = Field(min_length=1)
    response_path: str = ""
    count_endpoint: str | None = None
    count_response_path: str | None = None
    pagination_type: Literal["offset", "cursor"] = "offset"
    pagination_params: PaginationParams = Field(default_factory=PaginationParams)
    field_mappings: list[FieldMapping] = Field(min_length=1)
    filters: dict[str, str] = Field(default_factory=dict)
    extra_headers: dict[str, str] = Field(default_factory=dict)
    sync_mode: Literal["full", "incremental"] = "full"
    incremental_field: str | None = None
    incremental_param: str | None = None
    source_id_field: str = Field(min_length=1)
    # How the connection's credentials are sent, as for the outbound Custom API.
    api_key_header: str = "X-API-Key"
    token_url: str | None = None
    scope: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> InboundConfig:
        targets = {mapping.target for mapping in self.field_mappings}
        if "topic_name" not in targets:
            msg = "field_mappings must map a source to topic_name"
            raise ValueError(msg)
        if self.sync_mode == "incremental" and not (self.incremental_field and self.incremental_param):
            msg = "incremental sync needs incremental_field and incremental_param"
            raise ValueError(msg)
        if self.pagination_type == "cursor" and not self.pagination_params.cursor_response_path:
            msg = "cursor pagination needs pagination_params.cursor_response_path"
            raise ValueError(msg)
        return self
