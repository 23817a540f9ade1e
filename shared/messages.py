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


class RunCommand(Message):
    """A command about one run of a connection (keyed by connection id)."""

    type: str
    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    run_id: uuid.UUID
    org_id: uuid.UUID
    connection_id: uuid.UUID


class RunEvent(Message):
    """An event about one run; `event_id` is what consumers dedup a repeat by."""

    type: str
    event_id: uuid.UUID
    run_id: uuid.UUID
    org_id: uuid.UUID


class PushCommand(RunCommand):
    """Ask a push-worker to drive a push run (keyed by connection id)."""

    type: Literal["push"] = "push"
    topic_ids: list[uuid.UUID] | None = None
    dry_run: bool = False
    mode: RunMode = RunMode.AUTO
    attempt: int = 1
    # Step runs: the one batch (0-based, in plan order) this command pushes.
    batch_index: int | None = Field(default=None, ge=0)


class SyncCommand(RunCommand):
    """Ask a sync-worker to drive a sync run (keyed by connection id)."""

    type: Literal["sync"] = "sync"
    mode: RunMode = RunMode.AUTO
    attempt: int = 1


class ItemOutcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    DEACTIVATED = "deactivated"
    SKIPPED = "skipped"
    FAILED = "failed"
    PLANNED = "planned"  # dry run: nothing was written to the platform


class ItemResult(RunEvent):
    """The terminal result of one topic in a push run."""

    type: Literal["item"] = "item"
    item_id: str
    outcome: ItemOutcome
    planned_action: str | None = None
    segment_name: str | None = None
    platform_segment_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    attempt: int = 1
    at: datetime = Field(default_factory=_now)


class RunStarted(RunEvent):
    """A worker took the run; `total` is the number of items it will report."""

    type: Literal["run_started"] = "run_started"
    total: int
    at: datetime = Field(default_factory=_now)


class RunFinished(RunEvent):
    """The worker reported every item; the recorder decides the final status from the counts."""

    type: Literal["run_finished"] = "run_finished"
    cancelled: bool = False
    failed_reason: str | None = None
    at: datetime = Field(default_factory=_now)


class SyncStep(RunCommand):
    """Advance a step-mode sync run by one page: the page after `after_page` (a repeat is a no-op)."""

    type: Literal["sync_step"] = "sync_step"
    after_page: int


SyncWork = Annotated[SyncCommand | SyncStep, Field(discriminator="type")]
SYNC_WORK: TypeAdapter[SyncWork] = TypeAdapter(SyncWork)


class SyncPageRecorded(RunEvent):
    """A sync-worker committed one page: its topics, the run's counters and checkpoint, in one transaction.

    The counters are already in Postgres; the event is for observers. On the run's last page
    `run_status` is the final status the worker closed the run with.
    """

    type: Literal["sync_page"] = "sync_page"
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


MAX_TOPIC_IDS_PER_RUN = 10_000
"""The most topic ids one push request may name, over HTTP and over Kafka alike."""

API_KEY_HEADER = "x-activator-api-key"
"""The Kafka header carrying the API key of a request on activator.requests (never the body)."""


class PushRequest(Message):
    """An upstream service asks for a push run (activator.requests, keyed by org id).

    The org is the one of the API key in the `x-activator-api-key` header; a repeated
    `idempotency_key` of the org gets the run of the first request, not a new one.
    """

    type: Literal["push_request"] = "push_request"
    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    idempotency_key: str = Field(min_length=1, max_length=255)
    connection_id: uuid.UUID
    topic_ids: list[uuid.UUID] | None = Field(default=None, max_length=MAX_TOPIC_IDS_PER_RUN)
    dry_run: bool = False


class SyncRequest(Message):
    """An upstream service asks for a sync run (activator.requests, keyed by org id)."""

    type: Literal["sync_request"] = "sync_request"
    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    idempotency_key: str = Field(min_length=1, max_length=255)
    connection_id: uuid.UUID


RunRequestMessage = Annotated[PushRequest | SyncRequest, Field(discriminator="type")]
RUN_REQUEST: TypeAdapter[RunRequestMessage] = TypeAdapter(RunRequestMessage)


class RequestAccepted(RunEvent):
    """A request from activator.requests created a run (or named one already created by its idempotency key)."""

    type: Literal["request_accepted"] = "request_accepted"
    connection_id: uuid.UUID
    kind: Literal["push", "sync"]
    idempotency_key: str
    request_event_id: uuid.UUID
    duplicate: bool = False
    at: datetime = Field(default_factory=_now)


class RejectionCode(StrEnum):
    UNAUTHORIZED = "unauthorized"  # no API key, an unknown or revoked one, or another org's message key
    INVALID = "invalid"  # the body is not a valid request
    NOT_FOUND = "not_found"  # no such connection in the org
    WRONG_DIRECTION = "wrong_direction"
    CONNECTION_DISABLED = "connection_disabled"
    IDEMPOTENCY_CONFLICT = "idempotency_conflict"  # the key was used for a different request


class RequestRejected(Message):
    """A request from activator.requests created no run, and why (keyed like the request)."""

    type: Literal["request_rejected"] = "request_rejected"
    event_id: uuid.UUID
    org_id: uuid.UUID | None = None  # unknown when the API key was refused
    idempotency_key: str | None = None
    request_event_id: uuid.UUID | None = None
    connection_id: uuid.UUID | None = None
    code: RejectionCode
    reason: str
    at: datetime = Field(default_factory=_now)


class ActivationReviewed(Message):
    """A platform's review of a segment ended (or moved on) after its run: the activation's new state."""

    type: Literal["activation_reviewed"] = "activation_reviewed"
    event_id: uuid.UUID
    org_id: uuid.UUID
    connection_id: uuid.UUID
    topic_id: uuid.UUID
    platform_segment_id: str
    state: Literal["active", "failed"]
    message: str | None = None
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

StatusTopicEvent = Annotated[
    ItemResult
    | RunStarted
    | RunFinished
    | SyncPageRecorded
    | RequestAccepted
    | RequestRejected
    | ActivationReviewed,
    Field(discriminator="type"),
]
"""Everything activator.status carries: the runs' events, the intake's answers to requests and the
review poller's news of activations."""
STATUS_TOPIC_EVENT: TypeAdapter[StatusTopicEvent] = TypeAdapter(StatusTopicEvent)
