"""The retention loop: beside the outbox relay and the run supervisor, every gateway replica prunes what
the RETENTION_* settings let go, batch by batch with a pause between batches (SKIP LOCKED keeps
replicas on disjoint rows)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import asyncpg
import structlog
from prometheus_client import Counter

from shared.db import retention
from shared.db.pool import PgPool
from shared.settings import Settings

log = structlog.get_logger(__name__)

DELETED = Counter("activator_retention_deleted_total", "Rows deleted by retention", ["table"])

_DAY_S = 86_400.0


class RetentionPruner:
    """Prunes until nothing old is left, then sleeps `retention_interval_s`."""

    def __init__(self, pool: PgPool, settings: Settings) -> None:
        self._pool = pool
        self._settings = settings

    async def run(self) -> None:
        """Prune every `retention_interval_s` until cancelled; a Postgres outage only skips a round."""
        while True:
            try:
                await self.prune()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("retention_failed", error_type=type(exc).__name__, error=str(exc)[:200])
            await asyncio.sleep(self._settings.retention_interval_s)

    async def prune(self) -> dict[str, int]:
        """One full pass; returns the rows deleted per table."""
        settings, limit = self._settings, self._settings.retention_batch_rows
        totals: dict[str, int] = {}
        if settings.retention_outbox_s > 0:
            older = settings.retention_outbox_s
            totals["outbox"] = await self._drain(
                lambda: retention.prune_outbox(self._pool, older_than_s=older, limit=limit)
            )
        if settings.retention_sync_rejects_days > 0:
            older = settings.retention_sync_rejects_days * _DAY_S
            totals["sync_rejects"] = await self._drain(
                lambda: retention.prune_sync_rejects(self._pool, older_than_s=older, limit=limit)
            )
        if settings.retention_runs_days > 0:
            for table, rows in (await self._drain_runs(settings.retention_runs_days * _DAY_S)).items():
                totals[table] = totals.get(table, 0) + rows
        for table, rows in totals.items():
            DELETED.labels(table).inc(rows)
        if any(totals.values()):
            log.info("retention_pruned", **totals)
        return totals

    async def _drain(self, batch: Callable[[], Awaitable[int]]) -> int:
        total = 0
        while (deleted := await batch()) > 0:
            total += deleted
            if deleted < self._settings.retention_batch_rows:
                break
            await asyncio.sleep(self._settings.retention_batch_pause_s)
        return total

    async def _drain_runs(self, older_than_s: float) -> dict[str, int]:
        totals: dict[str, int] = {}
        while True:
            pruned = await retention.prune_runs(
                self._pool, older_than_s=older_than_s, limit=self._settings.retention_batch_rows
            )
            if pruned.rows == 0:
                return totals
            totals["runs"] = totals.get("runs", 0) + pruned.runs
            for table, rows in pruned.children.items():
                totals[table] = totals.get(table, 0) + rows
            await asyncio.sleep(self._settings.retention_batch_pause_s)
