"""The retention loop: beside the outbox relay and the run supervisor, every gateway replica prunes what
the RETENTION_* settings let go, batch by batch with a pause between batches (SKIP LOCKED keeps
replicas on disjoint rows)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol

import structlog
from prometheus_client import Counter

from services.gateway.rounds import Rounds
from shared.db import retention
from shared.db.pool import Db, PgPool

log = structlog.get_logger(__name__)

DELETED = Counter("activator_retention_deleted_total", "Rows deleted by retention", ["table"])

_DAY_S = 86_400.0

# One batch of a kind of row: what it deleted per table, and whether more may be left.
Step = Callable[[], Awaitable[tuple[dict[str, int], bool]]]


class RetentionPruner(Rounds):
    """Prunes until nothing old is left, then sleeps `retention_interval_s`."""

    failed_event = "retention_failed"
    with_error = True

    async def round(self) -> dict[str, int]:
        """One full pass, a batch of each table in turn until none is left with old rows; returns the
        rows deleted per table. Taking turns keeps a table that is fed as fast as it is pruned from
        starving the others."""
        totals: dict[str, int] = {}
        steps = self._steps()
        while steps:
            remaining = []
            for step in steps:
                deleted, more = await step()
                for table, rows in deleted.items():
                    totals[table] = totals.get(table, 0) + rows
                    DELETED.labels(table).inc(rows)  # counted per batch: a pass cut short still counts
                if more:
                    remaining.append(step)
            steps = remaining
            if steps:
                await asyncio.sleep(self._settings.retention_batch_pause_s)
        if any(totals.values()):
            log.info("retention_pruned", **totals)
        return totals

    def _steps(self) -> list[Step]:
        """One batch per enabled kind of row; each says what it deleted and whether more may be left."""
        settings, limit, pool = self._settings, self._settings.retention_batch_rows, self._pool
        steps: list[Step] = []
        if settings.retention_outbox_s > 0:
            steps.append(_rows("outbox", retention.prune_outbox, pool, settings.retention_outbox_s, limit))
        if settings.retention_sync_rejects_days > 0:
            rejects_s = settings.retention_sync_rejects_days * _DAY_S
            steps.append(_rows("sync_rejects", retention.prune_sync_rejects, pool, rejects_s, limit))
        if settings.retention_runs_days > 0:
            runs_s = settings.retention_runs_days * _DAY_S

            async def runs() -> tuple[dict[str, int], bool]:
                pruned = await retention.prune_runs(pool, older_than_s=runs_s, limit=limit)
                return {"runs": pruned.runs, **pruned.children}, pruned.rows > 0

            steps.append(runs)
        return steps


class PruneRows(Protocol):
    """A batch delete of one table's rows older than `older_than_s`, `limit` at most; returns how many."""

    def __call__(self, db: Db, *, older_than_s: float, limit: int) -> Awaitable[int]: ...


def _rows(table: str, prune: PruneRows, pool: PgPool, older_than_s: float, limit: int) -> Step:
    """A step deleting a batch of one table's old rows; more may be left when the batch was full."""

    async def step() -> tuple[dict[str, int], bool]:
        deleted = await prune(pool, older_than_s=older_than_s, limit=limit)
        return {table: deleted}, deleted >= limit

    return step
