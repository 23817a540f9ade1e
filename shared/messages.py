"""Versioned message contracts on Kafka: commands to the workers and status events from them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

_EVENT_NAMESPACE = uuid.UUID("5b8f1c9e-3c59-4d8e-9a7e-1f0f3c2d4a10")


def _now() -> datetime:
    return datetime.now(UTC)


def deterministic_event_id(*parts: object) -> uuid.UUID:
    """An event id that a redelivered command reproduces, so consumers dedup the repeat."""
    return uuid.uuid5(_EVENT_NAMESPACE, ":".join(str(part) for part in parts))


class Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = 1


class RunMode(StrEnum):
    AUTO = "auto"
    STEP = "step"


class PushCommand(Message):
    """Ask a push-worker to drive a push run (keyed by connection id)."""

    type: Literal["push"] = "push"
    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    run_id: uuid.UUID
    org_id: uuid.UUID
    connection_id: uuid.UUID
    topic_ids: list[uuid.UUID] | None = None
    dry_run: bool = False
    mode: RunMode = RunMode.AUTO
    attempt: int = 1
    # Step runs: the one batch (0-based, in plan order) this command pushes.
    batch_index: int | None = Field(default=None, ge=0)


class SyncCommand(Message):
    """Ask a sync-worker to drive a sync run (keyed by connection id)."""

    type: Literal["sync"] = "sync"
    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    run_id: uuid.UUID
    org_id: uuid.UUID
    connection_id: uuid.UUID
    mode: RunMode = RunMode.AUTO
    attempt: int = 1


class ItemOutcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    DEACTIVATED = "deactivated"
    SKIPPED = "skipped"
    FAILED = "failed"
    PLANNED = "planned"  # dry run: nothing was written to the platform


class ItemResult(Message):
    """The terminal result of one topic in a push run."""

    type: Literal["item"] = "item"
    event_id: uuid.UUID
    run_id: uuid.UUID
    org_id: uuid.UUID
    item_id: str
    outcome: ItemOutcome
    planned_action: str | None = None
    segment_name: str | None = None
    platform_segment_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    attempt: int = 1
    at: datetime = Field(default_factory=_now)


class RunStarted(Message):
    """A worker took the run; `total` is the number of items it will report."""

    type: Literal["run_started"] = "run_started"
    event_id: uuid.UUID
    run_id: uuid.UUID
    org_id: uuid.UUID
    total: int
    at: datetime = Field(default_factory=_now)


class RunFinished(Message):
    """The worker reported every item; the recorder decides the final status from the counts."""

    type: Literal["run_finished"] = "run_finished"
    event_id: uuid.UUID
    run_id: uuid.UUID
    org_id: uuid.UUID
    cancelled: bool = False
    failed_reason: str | None = None
    at: datetime = Field(default_factory=_now)


class SyncStep(Message):
    """Advance a step-mode sync run by one page: the page after `after_page` (a repeat is a no-op)."""

    type: Literal["sync_step"] = "sync_step"
    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    run_id: uuid.UUID
    org_id: uuid.UUID
    connection_id: uuid.UUID
    after_page: int


SyncWork = Annotated[SyncCommand | SyncStep, Field(discriminator="type")]
SYNC_WORK: TypeAdapter[SyncWork] = TypeAdapter(SyncWork)


class SyncPageRecorded(Message):
    """A sync-worker committed one page: its topics, the run's counters and checkpoint, in one transaction.

    The counters are already in Postgres; the event is for observers. On the run's last page
    `run_status` is the final status the worker closed the run with.
    """

    type: Literal["sync_page"] = "sync_page"
    event_id: uuid.UUID
    run_id: uuid.UUID
    org_id: uuid.UUID
    page: int
    records: int
    inserted: int
    updated: int
    unchanged: int
    invalid: int
    skipped: int
    run_status: str
    status_reason: str | None = None
    at: datetime = Field(default_factory=_now)


class DeadLetterMessage(BaseModel):
    """A message a consumer gave up on, with why, how often it tried, and the original bytes and headers."""

    model_config = ConfigDict(frozen=True)

    version: Literal[1] = 1
    source_topic: str
    partition: int
    offset: int
    error_type: str
    error: str
    attempts: int
    failed_at: datetime
    original_headers_b64: dict[str, str]
    original_value_b64: str


StatusEvent = Annotated[ItemResult | RunStarted | RunFinished | SyncPageRecorded, Field(discriminator="type")]
STATUS_EVENT: TypeAdapter[StatusEvent] = TypeAdapter(StatusEvent)
