"""Index Exchange taxonomy files: what an upload must look like, and what accepting one changes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.mock_platforms.platforms import Platform
from services.mock_platforms.state import MockState, Segment, UploadedFile
from services.mock_platforms.wire_types import CurrencyCode, ExternalId, Price, SegmentName

PLATFORM = Platform.INDEXEXCHANGE
MAX_FILE_BYTES = 30_000  # "30 kB": the stricter reading, so a fake never passes what IX refuses


class TaxonomyRejectedError(ValueError):
    """A file the platform refuses whole; the message says why."""


class TaxonomySegment(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    external_segment_id: ExternalId = Field(alias="externalSegmentID")
    external_segment_name: SegmentName = Field(alias="externalSegmentName")
    description: str = ""
    cpm: Price | None = None
    currency: CurrencyCode | None = None
    status: Literal["active", "inactive"] = "active"

    def as_wire(self) -> Segment:
        return self.model_dump(by_alias=True)


class TaxonomyFile(BaseModel):
    model_config = ConfigDict(extra="ignore")

    version: Literal["2.0"]
    segments: list[TaxonomySegment] = Field(min_length=1)


def parse_taxonomy(content: bytes, reject_names: frozenset[str]) -> list[TaxonomySegment]:
    """The file's segments, or TaxonomyRejectedError naming the first problem."""
    if len(content) > MAX_FILE_BYTES:
        raise TaxonomyRejectedError(f"file is {len(content)} bytes; the limit is {MAX_FILE_BYTES}")
    try:
        taxonomy = TaxonomyFile.model_validate_json(content)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        raise TaxonomyRejectedError(f"invalid taxonomy file: {where}: {first['msg']}") from None
    seen: set[str] = set()
    for segment in taxonomy.segments:
        if segment.external_segment_id in seen:
            raise TaxonomyRejectedError(f"externalSegmentID {segment.external_segment_id!r} appears twice")
        seen.add(segment.external_segment_id)
        if segment.external_segment_name in reject_names:
            raise TaxonomyRejectedError(
                f"externalSegmentName {segment.external_segment_name!r} is not allowed"
            )
    return taxonomy.segments


def accept_taxonomy(state: MockState, path: str, content: bytes) -> UploadedFile:
    """Validate an upload and keep its segments; raises TaxonomyRejectedError and keeps nothing."""
    platform = state.platforms[PLATFORM]
    segments = parse_taxonomy(content, platform.faults.reject_names)
    held = state.indexexchange.segments
    for segment in segments:
        wire = segment.as_wire()
        # A file restates segments, so only a new id or an identical restatement counts as a create.
        previous = held.get(segment.external_segment_id)
        if previous is None or previous == wire:
            platform.stats.record_create(segment.external_segment_id)
        held[segment.external_segment_id] = wire
    uploaded = UploadedFile(path, content, [segment.external_segment_id for segment in segments])
    state.indexexchange.files[path] = uploaded
    platform.stats.writes += 1
    return uploaded
