"""The contract every outbound platform client implements (the seed's PlatformClient)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from shared.connectors.taxonomy_path import Ancestors


class CreateSegmentParams(BaseModel):
    """What a new segment on a platform is made of."""

    model_config = ConfigDict(frozen=True)

    name: str
    description: str
    cpm: float = Field(ge=0)
    currency: str = Field(min_length=3, max_length=3)
    data_source_location: str = ""
    # Stable per (connection, topic): TTD's ProviderElementId, the Custom API's
    # Idempotency-Key, Index Exchange's externalSegmentID. Makes a repeated create harmless.
    external_key: str
    # The topic's ancestors, root first (TTD hangs the element under containers of these names).
    ancestors: Ancestors = ()
    # The topic's own attributes, for a platform whose create names something per topic (LiveRamp's
    # activation segment, config `activation_segment_attribute`).
    attributes: Mapping[str, Any] = Field(default_factory=dict)


class UpdateSegmentParams(BaseModel):
    """What may change on an existing segment."""

    model_config = ConfigDict(frozen=True)

    name: str
    description: str
    cpm: float | None = Field(default=None, ge=0)
    currency: str | None = None
    # As on create: TTD sends the element's parent again and cannot move it.
    ancestors: Ancestors = ()


class PlatformSegment(BaseModel):
    """A segment as the platform reports it."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    status: str
    # Every CPM the platform holds for the segment, where its read-back shows prices (empty: not shown).
    cpms: tuple[float, ...] = ()


class ConnectionTestResult(BaseModel):
    """Outcome of a lightweight, read-only connection check."""

    success: bool
    error: str | None = None


class PlatformClient(Protocol):
    """The five operations of the seed, plus closing the client's HTTP pool."""

    async def test_connection(self) -> ConnectionTestResult: ...

    async def create_segment(self, params: CreateSegmentParams) -> str:
        """Create a segment and return the platform's segment id."""
        ...

    async def update_segment(self, platform_segment_id: str, params: UpdateSegmentParams) -> None: ...

    async def deactivate_segment(self, platform_segment_id: str) -> None: ...

    async def get_segment(self, platform_segment_id: str) -> PlatformSegment | None: ...

    async def aclose(self) -> None: ...


class SegmentConfirmation(BaseModel):
    """Where a platform's asynchronous processing of a write stands."""

    model_config = ConfigDict(frozen=True)

    state: Literal["active", "pending", "failed"]
    message: str | None = None


class PendingWrite(BaseModel):
    """A write the platform has yet to finish, as the ledger keeps it: any client of any worker can ask about it."""

    model_config = ConfigDict(frozen=True)

    platform_segment_id: str
    # The platform's own reference of the write, where it reports status by one (TTD's data-rate BatchId).
    pending_ref: str | None = None


@runtime_checkable
class ConfirmingPlatformClient(PlatformClient, Protocol):
    """A platform that finishes writes later (TTD's data-rate batches, LiveRamp's privacy review of 1-2 business
    days): the push reports `pending` until then, and the review poller asks again long after the run."""

    async def confirm(self, writes: Sequence[PendingWrite]) -> dict[str, SegmentConfirmation]:
        """Wait (bounded) for the platform to finish these writes (oldest first); one state per segment id."""
        ...

    async def review(self, writes: Sequence[PendingWrite]) -> dict[str, SegmentConfirmation]:
        """Where each write stands now (no waiting); a write the client cannot ask about (no reference) is left
        out of the answer."""
        ...


@runtime_checkable
class FixedParentPlatformClient(PlatformClient, Protocol):
    """A platform whose segments cannot change parent once made (TTD's ParentElementId): a topic moved in the
    taxonomy becomes a new segment under its new path, and the old one is deactivated."""

    @property
    def fixed_parents(self) -> Literal[True]:
        """Marks the platform; always True."""
        ...


@runtime_checkable
class UnkeyedCreatePlatformClient(PlatformClient, Protocol):
    """A platform that documents no idempotency key or lookup for a create (LiveRamp's Data Seller API): a
    create repeated after its answer was lost makes a second segment. The push records each create's
    segment id as soon as it is answered, so a crash repeats at most the creates in flight at that moment."""

    @property
    def unkeyed_creates(self) -> Literal[True]:
        """Marks the platform; always True."""
        ...
