"""The seed's InboundConfig: how to page through an external API and map its records to topics."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from shared.connectors.outbound_config import RequestUrl, UrlOrPath
from shared.inbound.paths import DocumentPath

TOPIC_TARGETS = frozenset({"topic_name", "parent_category", "external_id", "description", "cpm", "path"})


class PaginationParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    offset_param: str = "offset"
    limit_param: str | None = "limit"
    page_size: int = Field(default=100, ge=1, le=10_000)
    cursor_param: str = "cursor"
    # None: the next cursor is looked for at DEFAULT_CURSOR_PATHS (shared/inbound/source.py).
    cursor_response_path: DocumentPath | None = None


class FieldMapping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: DocumentPath = Field(min_length=1)
    target: str

    @model_validator(mode="after")
    def _known_target(self) -> FieldMapping:
        if self.target not in TOPIC_TARGETS and not self.target.startswith("attributes."):
            msg = f"target must be one of {sorted(TOPIC_TARGETS)} or attributes.<key>, not {self.target!r}"
            raise ValueError(msg)
        return self


class InboundConfig(BaseModel):
    """Validated config of an inbound (sync) connection.

    Unknown keys are refused when a connection is saved (shared/connections/config.py) and ignored here.
    """

    model_config = ConfigDict(extra="ignore")

    base_url: RequestUrl
    response_path: DocumentPath = ""
    count_endpoint: UrlOrPath | None = None
    count_response_path: DocumentPath | None = None
    pagination_type: Literal["offset", "cursor"] = "offset"
    pagination_params: PaginationParams = Field(default_factory=PaginationParams)
    field_mappings: list[FieldMapping] = Field(min_length=1)
    filters: dict[str, str] = Field(default_factory=dict)
    extra_headers: dict[str, str] = Field(default_factory=dict)
    sync_mode: Literal["full", "incremental"] = "full"
    incremental_field: DocumentPath | None = None
    # The query parameter an incremental run sends the last high-water mark in.
    incremental_param: str = Field(default="updated_since", min_length=1)
    source_id_field: DocumentPath = Field(min_length=1)
    # How the connection's credentials are sent, as for the outbound Custom API.
    api_key_header: str = "X-API-Key"
    token_url: RequestUrl | None = None
    scope: str | None = None
    # Pages fetched ahead of the commits: offset paging asks for this many pages at once; cursor paging
    # can only ask one after another, so there it is how far reading runs ahead of the commits.
    parallel_pages: int = Field(default=8, ge=1, le=32)
    # The source's request budget, shared by every request of a run (parallel pages included).
    rate_limit_rps: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _consistent(self) -> InboundConfig:
        problems: list[tuple[tuple[str, ...], str]] = []
        if "topic_name" not in {mapping.target for mapping in self.field_mappings}:
            problems.append((("field_mappings",), "must map a source to topic_name"))
        if self.sync_mode == "incremental" and not self.incremental_field:
            problems.append((("incremental_field",), "required with sync_mode incremental"))
        if (
            self.pagination_type == "cursor"
            and not self.response_path
            and not self.pagination_params.cursor_response_path
        ):
            # The body is the list of items itself: no default place can hold the next cursor.
            problems.append(
                (
                    ("pagination_params", "cursor_response_path"),
                    "required with cursor pagination when response_path is empty (the body is the list "
                    "of items, so it has no place for a next cursor)",
                )
            )
        if problems:
            # A ValidationError of our own keeps each problem's field location (a ValueError would not).
            raise ValidationError.from_exception_data(
                "InboundConfig",
                [
                    InitErrorDetails(type=PydanticCustomError("value_error", message), loc=loc, input=None)
                    for loc, message in problems
                ],
            )
        return self
