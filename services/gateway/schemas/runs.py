"""Runs as the API shows them: the requests that start them, their status documents, items, rejects and
view tokens."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field

from services.gateway.schemas.base import ApiModel
from shared.db.runs import RunError
from shared.messages import MAX_TOPIC_IDS_PER_RUN


class RunRequest(ApiModel):
    topic_ids: list[uuid.UUID] | None = Field(default=None, max_length=MAX_TOPIC_IDS_PER_RUN)
    dry_run: bool = False
    mode: Literal["auto", "step"] = "auto"

    model_config = ConfigDict(json_schema_extra={"examples": [{"dryRun": False, "mode": "auto"}]})


class ReconcileRequest(ApiModel):
    repair: bool = Field(
        default=False,
        description="Push the ledger's content again where the platform drifted (missing: created again; "
        "renamed or repriced: updated back); without it the run only reports the drift, as a dry run does",
    )
    topic_ids: list[uuid.UUID] | None = Field(default=None, max_length=MAX_TOPIC_IDS_PER_RUN)

    model_config = ConfigDict(json_schema_extra={"examples": [{"repair": False}]})


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


class RunErrorOut(RunError, ApiModel):
    pass


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
    retry_attempt: int = Field(
        default=0, description="The run's place in a chain of retries: 0 for a run that retries nothing"
    )
    next_retry_at: datetime | None = Field(
        default=None,
        description="When the run's retryable failures are retried automatically (AUTO_RETRY_* settings)",
    )
    retry_given_up_at: datetime | None = Field(
        default=None, description="When automatic retries stopped with failures left (horizon passed)"
    )
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
    pending_review: int | None = Field(
        default=None,
        description="Push runs: items written whose platform review or processing has not ended yet "
        "(LiveRamp's privacy review, TTD's data rates); they stay counted as succeeded",
    )


class RunPage(ApiModel):
    items: list[RunSummaryOut]
    next_cursor: str | None


ItemOutcomeName = Literal[
    "created",
    "updated",
    "unchanged",
    "deactivated",
    "planned",
    "failed",
    "skipped",
    "inserted",
    "invalid",
    "deleted",
]
"""Outcomes of push items and of sync records (the filter of GET /api/runs/{runId}/items): push
`created | updated | unchanged | deactivated | planned | failed | skipped`, sync
`inserted | updated | unchanged | invalid | deleted` (a topic the source no longer lists)."""


class RunItemOut(ApiModel):
    """One item's result in a run; the CSV of the items has these fields as its columns, in this order."""

    item_id: str = Field(
        description="The topic id (push runs, sync records), or `page:position` of a rejected sync record"
    )
    topic_id: uuid.UUID | None
    external_id: str | None
    outcome: str = Field(description="One of the outcomes the `outcome` filter takes")
    planned_action: str | None = Field(
        description="Dry runs: create, update, deactivate or unchanged; reconcile runs add the drift found, "
        "e.g. `update:renamed`, `update:price_differs`, `create:missing`, `unchanged:deactivated`; `move` "
        "for a topic moved in the taxonomy on a platform whose segments cannot change parent"
    )
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


class RunViewTokenOut(ApiModel):
    token: str = Field(description="Pass as `?token=` to /api/runs/{runId}/events or /api/runs/{runId}")
    expires_at: datetime
    url: str = Field(description="The live status page of the run, path relative to the gateway")
