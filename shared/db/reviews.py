"""Pending activations due for a review: claimed by one poller at a time, asked about, and put back
with a later due time while the platform's review goes on."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from shared.connectors.protocol import PendingWrite
from shared.db.pool import Db


@dataclass(frozen=True, slots=True)
class DueReview:
    """One pending activation a poller now holds until `claim_s` has passed."""

    org_id: uuid.UUID
    connection_id: uuid.UUID
    topic_id: uuid.UUID
    platform_segment_id: str
    checks: int  # this one included
    # The platform's reference of the pending write (TTD's data-rate BatchId), None where it needs none.
    pending_ref: str | None = None

    @property
    def write(self) -> PendingWrite:
        """The write to ask the platform about."""
        return PendingWrite(platform_segment_id=self.platform_segment_id, pending_ref=self.pending_ref)


async def claim_due(db: Db, *, limit: int, claim_s: float) -> list[DueReview]:
    """Claim up to `limit` pending activations whose review is due (other pollers skip them): their
    next review moves `claim_s` ahead, so a poller that dies leaves them due again after that."""
    rows = await db.fetch(
        """WITH due AS (
               SELECT connection_id, topic_id FROM activations
               WHERE state = 'pending' AND platform_segment_id IS NOT NULL
                 AND (next_review_at IS NULL OR next_review_at <= now())
               ORDER BY next_review_at NULLS FIRST LIMIT $1
               FOR UPDATE SKIP LOCKED)
           UPDATE activations a
           SET next_review_at = now() + make_interval(secs => $2), review_checks = a.review_checks + 1
           FROM due WHERE a.connection_id = due.connection_id AND a.topic_id = due.topic_id
           RETURNING a.org_id, a.connection_id, a.topic_id, a.platform_segment_id, a.review_checks AS checks,
                     a.pending_ref""",
        limit,
        claim_s,
    )
    return [DueReview(**dict(row)) for row in rows]


async def review_later(
    db: Db, connection_id: uuid.UUID, topic_ids: list[uuid.UUID], *, first_s: float, max_s: float
) -> None:
    """Still pending: ask again after `first_s` doubled per check so far, at most `max_s`."""
    if not topic_ids:
        return
    await db.execute(
        """UPDATE activations SET next_review_at =
               now() + make_interval(secs => least($4, $3 * power(2, least(review_checks - 1, 20))))
           WHERE connection_id = $1 AND topic_id = ANY($2::uuid[]) AND state = 'pending'""",
        connection_id,
        topic_ids,
        first_s,
        max_s,
    )


async def pending_of_run(db: Db, run_id: uuid.UUID) -> int:
    """How many of a push run's writes the platform is still reviewing or processing."""
    count: int = await db.fetchval(
        "SELECT count(*) FROM activations WHERE state = 'pending' AND last_run_id = $1", run_id
    )
    return count
