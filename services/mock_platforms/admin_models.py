"""Bodies of the admin API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class TenantRegistration(BaseModel):
    model_config = ConfigDict(extra="forbid")

    platform: str
    credentials: dict[str, str]


class PlatformSettings(BaseModel):
    """Knobs of one platform's behaviour (not faults): TTD's batch and approval delays and quota, LiveRamp's token lifetime and review."""

    model_config = ConfigDict(extra="forbid")

    processing_delay_s: float | None = Field(default=None, ge=0)
    approval_delay_s: float | None = Field(default=None, ge=0)
    token_ttl_s: int | None = Field(default=None, ge=1)
    review_delay_s: float | None = Field(default=None, ge=0)
    # TTD's quota: requests per endpoint and login per window (0: none), and the window (TTD: ~1 minute).
    rate_limit: int | None = Field(default=None, ge=0)
    rate_limit_window_s: float | None = Field(default=None, gt=0)


class DmpRecords(BaseModel):
    # Records are kept as given, invalid ones too: the sync engine must classify them.
    records: list[dict[str, Any]]


class DmpGenerate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: int = Field(ge=0, le=1_000_000)
    seed: int = 0


class SegmentDrift(BaseModel):
    """A change made on the platform behind Activator's back (`POST /admin/drift/{platform}/{id}`)."""

    model_config = ConfigDict(extra="forbid")

    rename: str | None = Field(default=None, min_length=1)
    # A new CPM: the custom API's `price`, every LiveRamp use case's `cpm`.
    price: float | None = Field(default=None, ge=0)
    disable: bool = False
    remove: bool = False
