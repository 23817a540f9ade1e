"""Schedules as the API shows them: a cadence to save per connection and kind, and where it stands."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field

from services.gateway.schemas.base import ApiModel
from shared.runs.schedules import MAX_EVERY_MINUTES

ScheduleKindName = Literal["push", "sync", "reconcile"]


class ScheduleInput(ApiModel):
    """Exactly one of `everyMinutes` and `cron`; `timeZone` (IANA) is the zone the cron is read in."""

    every_minutes: int | None = Field(default=None, ge=1, le=MAX_EVERY_MINUTES)
    cron: str | None = Field(
        default=None, min_length=1, max_length=200, description="minute hour dom month dow"
    )
    time_zone: str = Field(default="UTC", min_length=1, max_length=64)
    enabled: bool = True

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"everyMinutes": 60}, {"cron": "0 6 * * 1-5", "timeZone": "Europe/Berlin"}]
        }
    )


class ScheduleOut(ApiModel):
    connection_id: uuid.UUID
    kind: ScheduleKindName
    every_minutes: int | None
    cron: str | None
    time_zone: str
    enabled: bool
    next_run_at: datetime | None = Field(description="The next slot; null while the schedule is disabled")
    last_slot_at: datetime | None
    last_run_id: uuid.UUID | None
    last_error: str | None = Field(
        description="Why the last slot started no run (disabled connection, overlap)"
    )
    created_at: datetime
    updated_at: datetime
