"""Everything the mock platforms remember, in memory, per platform; `reset` forgets it all."""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from services.mock_platforms.dmp_records import DmpDataset
from services.mock_platforms.faults import FaultState
from services.mock_platforms.platforms import Platform

Clock = Callable[[], float]
CREATE_TIMES_KEPT = 100_000
Segment = dict[str, Any]


@dataclass
class PlatformStats:
    """Counters a test reads to prove what the platform saw."""

    requests: int = 0
    writes: int = 0
    rate_limited: int = 0  # requests refused with 429 by a platform's quota (TTD)
    # Create requests per external key (ProviderElementId, Idempotency-Key, clientReference,
    # externalSegmentID); a key above 1 means the caller repeated a create.
    creates_by_key: Counter[str] = field(default_factory=Counter)
    # When the latest creates arrived (wall clock, seconds): what a rate-budget check counts per window.
    create_times: deque[float] = field(default_factory=lambda: deque(maxlen=CREATE_TIMES_KEPT))

    def record_create(self, key: str) -> None:
        self.creates_by_key[key] += 1
        self.create_times.append(time.time())

    @property
    def duplicates(self) -> int:
        return sum(n - 1 for n in self.creates_by_key.values() if n > 1)


@dataclass
class PlatformState:
    """What every platform has: counters, faults and the credentials it accepts."""

    stats: PlatformStats = field(default_factory=PlatformStats)
    faults: FaultState = field(default_factory=FaultState)
    tenants: list[dict[str, str]] = field(default_factory=list)


@dataclass
class CustomApiStore:
    segments: dict[str, Segment] = field(default_factory=dict)
    by_idempotency_key: dict[str, str] = field(default_factory=dict)
    next_id: int = 1


@dataclass
class DataRateBatch:
    batch_id: str
    submitted_at: float
    errors: list[dict[str, str]]
    # Some rate in it is under TTD's approval thresholds (CPM < $5, media cost < 10%).
    needs_approval: bool = False
    # The rates as submitted, which TTD's status answer lists back (`DataRates[]`).
    rates: list[Segment] = field(default_factory=list)

    def status(self, now: float, processing_delay_s: float, approval_delay_s: float) -> tuple[str, str]:
        """(ProcessingStatus, ApprovalStatus) at `now`."""
        if now - self.submitted_at < processing_delay_s:
            return "Pending", "Pending"
        if self.errors:
            return "Failed", "Pending"
        waited = now - self.submitted_at - processing_delay_s
        return "Processed", "Pending" if self.needs_approval and waited < approval_delay_s else "Approved"


@dataclass
class MintedToken:
    """A token `POST /ttd/v3/authentication` issued, and the tenant whose login minted it."""

    expires_at: float
    tenant: dict[str, str]


@dataclass
class QuotaWindow:
    """One endpoint and login's current quota window: when it opened and the requests it admitted."""

    started_at: float
    admitted: int = 0


@dataclass
class TradeDeskStore:
    # Tokens minted from a login; a pasted token (a tenant's `api_key`) is not held here.
    tokens: dict[str, MintedToken] = field(default_factory=dict)
    elements: dict[tuple[str, str], Segment] = field(default_factory=dict)
    # Element ids per provider in creation order, so a query page is a slice.
    element_order: dict[str, list[str]] = field(default_factory=dict)
    rates: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    batches: dict[str, DataRateBatch] = field(default_factory=dict)
    processing_delay_s: float = 1.0
    # How long a processed batch with a rate under the approval thresholds waits for TTD's approval.
    approval_delay_s: float = 0.0
    # Requests admitted per endpoint and login in each window of `rate_limit_window_s`; 0 is no quota.
    rate_limit: int = 0
    rate_limit_window_s: float = 60.0
    quota_windows: dict[tuple[str, str], QuotaWindow] = field(default_factory=dict)


@dataclass
class TokenGrant:
    expires_at: float
    org_id: str | None


@dataclass
class LiveRampStore:
    segments: dict[str, Segment] = field(default_factory=dict)
    org_of_segment: dict[str, str] = field(default_factory=dict)
    by_client_reference: dict[tuple[str, str], str] = field(default_factory=dict)
    tokens: dict[str, TokenGrant] = field(default_factory=dict)
    # LiveRamp's documented example token lives 600 s.
    token_ttl_s: int = 600
    # New segments sit in LiveRamp's privacy review this long (1-2 business days in production).
    review_delay_s: float = 0.0
    created_at: dict[str, float] = field(default_factory=dict)
    next_id: int = 100_001


@dataclass
class UploadedFile:
    path: str
    content: bytes
    segment_ids: list[str]


@dataclass
class IndexExchangeStore:
    segments: dict[str, Segment] = field(default_factory=dict)
    files: dict[str, UploadedFile] = field(default_factory=dict)
    # A fresh server has its upload folder ready; any other `remote_dir` must be made with mkdir.
    directories: set[str] = field(default_factory=lambda: {"/", "/incoming"})


class MockState:
    """The whole memory of the mock process; handlers read it through this object on every request."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self.clock = clock
        self.reset()

    def reset(self) -> None:
        self.platforms = {platform: PlatformState() for platform in Platform}
        self.custom_api = CustomApiStore()
        self.tradedesk = TradeDeskStore()
        self.liveramp = LiveRampStore()
        self.indexexchange = IndexExchangeStore()
        self.dmp = DmpDataset([])

    def held_segments(self, platform: Platform) -> list[Segment]:
        """Every segment the platform holds, for `GET /admin/segments/{platform}`."""
        if platform is Platform.CUSTOM_API:
            return list(self.custom_api.segments.values())
        if platform is Platform.TRADEDESK:
            rates = self.tradedesk.rates
            return [
                {**element, "DataRate": rates.get(key)} for key, element in self.tradedesk.elements.items()
            ]
        if platform is Platform.LIVERAMP:
            orgs = self.liveramp.org_of_segment
            return [{**segment, "orgId": orgs[sid]} for sid, segment in self.liveramp.segments.items()]
        if platform is Platform.INDEXEXCHANGE:
            return list(self.indexexchange.segments.values())
        return self.dmp.records
