"""Retrying a push run's failed items: one path for the Retry button and for the automatic retries.

A retry is a child run of the failed items (`parent_run_id`), one later in the chain (`retry_attempt`)
and under the same horizon. The Retry button retries every failed item; an automatic retry only those
whose failure class may succeed later (a timeout, a 5xx, a 429), when the run's `retry_due_at` comes
(set by the recorder at the run's close, `shared.db.run_retries.schedule_retry`). Starting a child ends the
parent's automatic retries: the child's own close schedules the next one, so the chain backs off until
its horizon and then is given up.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.db import run_retries
from shared.db import runs as repo
from shared.db.pool import DbConnection
from shared.runs.commands import command_for, queue_command
from shared.runs.start import RunRefused, lock_connection
from shared.settings import Settings


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When a run's retryable failures are retried automatically (settings AUTO_RETRY_*)."""

    horizon_s: float  # 0: never
    first_delay_s: float

    @classmethod
    def of(cls, settings: Settings) -> RetryPolicy:
        return cls(settings.auto_retry_horizon_s, settings.auto_retry_first_delay_s)


NO_RETRIES = RetryPolicy(horizon_s=0, first_delay_s=60)


async def start_retry(
    connection: DbConnection, settings: Settings, parent: repo.Run, *, automatic: bool
) -> repo.Run | None:
    """Start the child run of `parent`'s failed items (only the retryable ones when `automatic`) in the
    caller's transaction; None when there is nothing to retry. RunRefused when the connection may not run
    a push any more (disabled or gone)."""
    failed = await run_retries.failed_item_ids(connection, parent.id, retryable_only=automatic)
    if not failed:
        await run_retries.end_retries(connection, parent.id, given_up=False)
        return None
    await lock_connection(connection, parent.org_id, parent.connection_id, "push")
    run = await repo.insert_run(
        connection,
        org_id=parent.org_id,
        connection_id=parent.connection_id,
        kind="push",
        mode="auto",
        dry_run=False,
        total=len(failed),
        request={"topicIds": failed, "retryOf": str(parent.id), "automatic": automatic},
        parent_run_id=parent.id,
        retry_attempt=parent.retry_attempt + 1,
        retry_horizon_at=parent.retry_horizon_at,
    )
    await run_retries.end_retries(connection, parent.id, given_up=False)
    await queue_command(connection, settings, command_for(run))
    return run


__all__ = ["NO_RETRIES", "RetryPolicy", "RunRefused", "start_retry"]
