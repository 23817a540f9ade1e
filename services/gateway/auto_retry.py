"""The automatic-retry loop: beside the scheduler, every gateway replica starts the retry runs that are due.

Any number of replicas may run it: a round locks due runs `FOR UPDATE SKIP LOCKED` and, in the same
transaction, starts each one's child run of its retryable failures and clears the parent's due time, so
a due retry starts once. A connection that was disabled or deleted meanwhile ends the chain as given up.
"""

from __future__ import annotations

import structlog
from prometheus_client import Counter

from services.gateway.rounds import Rounds
from shared.db import run_retries
from shared.db import runs as repo
from shared.db.pool import DbConnection
from shared.runs.retries import RunRefused, start_retry

log = structlog.get_logger(__name__)

AUTO_RETRIES = Counter(
    "activator_auto_retries_total",
    "Automatic retries of push runs' retryable failures, by outcome (started | nothing | refused)",
    ["outcome"],
)

ROUND_BATCH = 20
"""Due runs one transaction takes; a round goes on while as many were due."""


class AutoRetry(Rounds):
    """Starts due retries, a round every `auto_retry_poll_interval_s` (not run when the horizon setting is 0)."""

    failed_event = "auto_retry_round_failed"

    async def round(self) -> int:
        """One round: start every retry that is due now; how many runs were started."""
        started = 0
        while True:
            async with self._pool.acquire() as connection, connection.transaction():
                due = await run_retries.due_for_retry(connection, limit=ROUND_BATCH)
                for parent in due:
                    started += await self._retry(connection, parent)
            if len(due) < ROUND_BATCH:
                return started

    async def _retry(self, connection: DbConnection, parent: repo.Run) -> int:
        bound = log.bind(run_id=str(parent.id), connection_id=str(parent.connection_id))
        try:
            async with connection.transaction():  # a savepoint: a refusal undoes only this run's retry
                child = await start_retry(connection, self._settings, parent, automatic=True)
        except RunRefused as refused:
            await run_retries.end_retries(connection, parent.id, given_up=True)
            AUTO_RETRIES.labels("refused").inc()
            bound.info("auto_retry_refused", reason=refused.detail)
            return 0
        if child is None:
            AUTO_RETRIES.labels("nothing").inc()
            return 0
        AUTO_RETRIES.labels("started").inc()
        bound.info("auto_retry_started", retry_run_id=str(child.id), attempt=child.retry_attempt)
        return 1
