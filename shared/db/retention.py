"""Retention: deletes dispatched outbox rows, finished runs (with everything hanging off them) and old
sync rejects, one small batch per transaction so the hot path never waits behind a purge.

Never touched: the activation ledger, outbox rows not yet dispatched, and any run that is not in a final
status or whose lease is still live, however old it is. Every pick uses FOR UPDATE SKIP LOCKED, so
several gateway replicas prune side by side on disjoint rows.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg

from shared.db.pool import Db, PgPool
from shared.runs.status import TERMINAL_STATUS_VALUES

# Literal, not a parameter: the planner can then prove the partial index runs_finished applies.
_FINAL = "status IN (" + ", ".join(f"'{status}'" for status in TERMINAL_STATUS_VALUES) + ")"
# A prune waits at most this long for a row lock held by live work, then leaves it for the next pass.
_LOCK_TIMEOUT = "500ms"
# What hangs off a run, with each table's key: deleted before the run so its cascade stays small.
_RUN_CHILDREN: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("run_items", ("run_id", "item_id")),
    ("run_errors", ("id",)),
    ("sync_rejects", ("id",)),
    ("sync_seen", ("run_id", "source_id")),
)


@dataclass(frozen=True, slots=True)
class RunsPruned:
    """One batch of run pruning: runs deleted, and child rows deleted per table."""

    runs: int
    children: dict[str, int]

    @property
    def rows(self) -> int:
        """Every row this batch deleted."""
        return self.runs + sum(self.children.values())


def _runs_within(rows: list[asyncpg.Record], limit: int) -> list[uuid.UUID]:
    """The oldest runs whose rows (estimated from their counters) fit one batch, at least one: a batch
    then usually empties and deletes every run it took, instead of nibbling at many at once."""
    chosen: list[uuid.UUID] = []
    weight = 0
    for row in rows:
        if chosen and weight + row["weight"] > limit:
            break
        chosen.append(row["id"])
        weight += row["weight"]
    return chosen


def _deleted(status: str) -> int:
    return int(status.rsplit(" ", 1)[-1])


async def prune_outbox(db: Db, *, older_than_s: float, limit: int) -> int:
    """Delete up to `limit` outbox rows dispatched more than `older_than_s` ago; returns how many."""
    status: str = await db.execute(
        """DELETE FROM outbox WHERE id IN (
               SELECT id FROM outbox
               WHERE dispatched_at IS NOT NULL AND dispatched_at < now() - make_interval(secs => $1)
               ORDER BY dispatched_at LIMIT $2 FOR UPDATE SKIP LOCKED)""",
        older_than_s,
        limit,
    )
    return _deleted(status)


async def prune_sync_rejects(db: Db, *, older_than_s: float, limit: int) -> int:
    """Delete up to `limit` rejected records older than `older_than_s` of finished runs only."""
    status: str = await db.execute(
        f"""DELETE FROM sync_rejects WHERE id IN (
               SELECT r.id FROM sync_rejects r JOIN runs u ON u.id = r.run_id
               WHERE r.at < now() - make_interval(secs => $1) AND u.{_FINAL}
               ORDER BY r.at LIMIT $2 FOR UPDATE OF r SKIP LOCKED)""",
        older_than_s,
        limit,
    )
    return _deleted(status)


async def prune_runs(pool: PgPool, *, older_than_s: float, limit: int) -> RunsPruned:
    """One batch: up to `limit` runs finished more than `older_than_s` ago lose up to `limit` child rows;
    the runs themselves go once nothing hangs off them any more (a huge run takes several batches)."""
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute(f"SET LOCAL lock_timeout = '{_LOCK_TIMEOUT}'")
        rows = await connection.fetch(
            f"""SELECT id, greatest(processed, 1) + errors_stored AS weight FROM runs
                WHERE {_FINAL} AND finished_at < now() - make_interval(secs => $1)
                  AND (lease_expires_at IS NULL OR lease_expires_at < now())
                ORDER BY finished_at LIMIT $2 FOR UPDATE SKIP LOCKED""",
            older_than_s,
            limit,
        )
        run_ids = _runs_within(rows, limit)
        if not run_ids:
            return RunsPruned(0, {})
        budget, children = limit, {}
        for table, keys in _RUN_CHILDREN:
            matched = " AND ".join(f"t.{key} = d.{key}" for key in keys)
            status: str = await connection.execute(
                f"""DELETE FROM {table} t USING (
                       SELECT {", ".join(keys)} FROM {table} WHERE run_id = ANY($1::uuid[]) LIMIT $2) d
                    WHERE {matched}""",
                run_ids,
                budget,
            )
            children[table] = _deleted(status)
            budget -= children[table]
            if budget <= 0:
                # Maybe more rows remain: the runs stay until a later batch has emptied them.
                return RunsPruned(0, children)
        # Retry children keep their own rows (parent_run_id is set NULL); the ledger has no key to runs.
        deleted: str = await connection.execute("DELETE FROM runs WHERE id = ANY($1::uuid[])", run_ids)
        return RunsPruned(_deleted(deleted), children)
