"""A run's status: the one list of them, and which are final."""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    """Where a push or sync run stands (the `runs.status` column's CHECK lists the same values)."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INCOMPLETE = "incomplete"  # a sync whose count and the records seen disagree

    @property
    def is_terminal(self) -> bool:
        """Whether the run has reached a final status."""
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES: frozenset[RunStatus] = frozenset(
    {RunStatus.SUCCEEDED, RunStatus.PARTIAL, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.INCOMPLETE}
)
"""Statuses a run never leaves; compare with plain strings too (StrEnum members equal their values)."""

TERMINAL_STATUS_VALUES: list[str] = sorted(status.value for status in TERMINAL_STATUSES)
"""The final statuses as a query parameter (`status <> ALL($n::text[])`)."""
