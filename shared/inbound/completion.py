"""How a sync run ends: complete (every source record accounted for), or incomplete with the figures."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Verdict:
    """The final status of a run that paged to the end, and why."""

    status: str  # succeeded | partial | incomplete
    reason: str | None
    # The count endpoint confirmed the run saw every record: only then may a full sync soft-delete.
    verified: bool

    @property
    def complete(self) -> bool:
        """Whether the run may advance the connection's high-water mark."""
        return self.status != "incomplete"


def judge(
    *, total: int | None, recount: int | None, recount_error: str | None, distinct: int, invalid: int
) -> Verdict:
    """Compare the source's count at the start and at the end with the distinct source ids seen."""
    finished = "partial" if invalid else "succeeded"
    invalid_note = f"{invalid} invalid records kept as rejects" if invalid else None
    if total is None:
        note = "no count endpoint: completeness not checked, nothing soft-deleted"
        return Verdict(finished, "; ".join(filter(None, [note, invalid_note])), verified=False)
    if recount_error is not None:
        reason = (
            f"could not re-read the source's count at the end ({recount_error}); "
            f"{total} records at the start, {distinct} distinct source ids seen"
        )
        return Verdict("incomplete", reason, verified=False)
    if recount is not None and recount != total:
        reason = (
            f"the source's total changed during the run: {total} at the start, {recount} at the end; "
            f"{distinct} distinct source ids seen"
        )
        return Verdict("incomplete", reason, verified=False)
    if distinct != total:
        reason = f"the source reported {total} records but {distinct} distinct source ids were seen"
        return Verdict("incomplete", reason, verified=False)
    return Verdict(finished, invalid_note, verified=True)


def may_soft_delete(*, candidates: int, active: int, max_share: float) -> bool:
    """Whether a complete full sync may mark `candidates` of the connection's `active` topics deleted."""
    # Decimal: 29 of 100 is exactly the 0.29 allowed, which float arithmetic would refuse.
    return 0 < candidates <= Decimal(str(max_share)) * active


def soft_delete_note(*, candidates: int, active: int, deleted: int, max_share: float) -> str | None:
    """What the soft-delete step of a complete full sync did, for the run's status reason."""
    if deleted:
        return f"{deleted} topics no longer in the source marked deleted"
    if candidates:
        return (
            f"soft deletes skipped: {candidates} of the connection's {active} topics are not in the source, "
            f"more than the {max_share:.0%} allowed (SYNC_MAX_DELETE_SHARE)"
        )
    return None
