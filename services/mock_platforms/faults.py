"""Injected failures: what an operator asked for, and which requests get them."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class FaultSpec(BaseModel):
    """The body of `PUT /admin/faults/{platform}`; it replaces the platform's previous faults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    latency_ms: int = Field(default=0, ge=0, le=600_000)
    status: int | None = Field(default=None, ge=400, le=599)
    status_rate: float = Field(default=1.0, ge=0.0, le=1.0)
    retry_after: int | None = Field(default=None, ge=0)
    count: int | None = Field(default=None, ge=1)
    malformed_json: bool = False
    html_error: bool = False
    echo_credentials: bool = False
    drop_connection: bool = False
    drop_response: bool = False
    expire_tokens: bool = False
    reject_names: list[str] = Field(default_factory=list)
    seed: int = 0
    repeat_cursor: bool = False
    shrink_after_pages: int | None = Field(default=None, ge=0)
    shrink_by: int = Field(default=0, ge=0)

    @property
    def disruption(self) -> Disruption | None:
        """The one way a selected request fails; the most severe wins when several are set."""
        if self.drop_connection:
            return Disruption.DROP_CONNECTION
        if self.drop_response:
            return Disruption.DROP_RESPONSE
        if self.html_error:
            return Disruption.HTML_ERROR
        if self.malformed_json:
            return Disruption.MALFORMED_JSON
        if self.echo_credentials:
            return Disruption.ECHO_CREDENTIALS
        if self.status is not None:
            return Disruption.STATUS
        return None


class Disruption(StrEnum):
    STATUS = "status"
    MALFORMED_JSON = "malformed_json"
    HTML_ERROR = "html_error"
    ECHO_CREDENTIALS = "echo_credentials"  # a refusal quoting every credential the request carried
    DROP_CONNECTION = "drop_connection"  # before the request is processed
    DROP_RESPONSE = "drop_response"  # after it is processed: the lost-acknowledgement case


_DEFAULT_STATUS: dict[Disruption | None, int] = {Disruption.HTML_ERROR: 502, Disruption.ECHO_CREDENTIALS: 401}


@dataclass(frozen=True)
class FaultDecision:
    """What happens to one request: a delay, then perhaps a disruption instead of the real answer."""

    latency_s: float
    disruption: Disruption | None
    status: int
    retry_after: int | None


@dataclass
class FaultState:
    """A platform's faults in force.

    `standing` is the spec last installed; `spec` is its request-level part (latency and the
    disruption), which clears after `count` faulted requests. `reject_names` and the DMP knobs
    stay until the faults are deleted.
    """

    standing: FaultSpec = field(default_factory=FaultSpec)
    spec: FaultSpec | None = None
    remaining: int | None = None
    rng: random.Random = field(default_factory=random.Random)
    reject_names: frozenset[str] = frozenset()
    pages_served: int = 0
    shrink_done: bool = False

    def install(self, spec: FaultSpec) -> None:
        self.spec = spec if (spec.latency_ms or spec.disruption) else None
        self.remaining = spec.count
        self.rng = random.Random(spec.seed)
        self.reject_names = frozenset(spec.reject_names)
        self.pages_served = 0
        self.shrink_done = False
        self.standing = spec

    def clear(self) -> None:
        self.install(FaultSpec())

    def decide(self) -> FaultDecision | None:
        """Roll for one request; O(1)."""
        spec = self.spec
        if spec is None:
            return None
        disruption = spec.disruption
        if disruption is not None and spec.status_rate < 1.0 and self.rng.random() >= spec.status_rate:
            disruption = None
        faulted = disruption is not None or spec.disruption is None
        if faulted and self.remaining is not None:
            self.remaining -= 1
            if self.remaining <= 0:
                self.spec = None
        return FaultDecision(
            latency_s=spec.latency_ms / 1000,
            disruption=disruption,
            status=spec.status or _DEFAULT_STATUS.get(disruption, 500),
            retry_after=spec.retry_after,
        )

    def rejects(self, name: str) -> bool:
        return name in self.reject_names
