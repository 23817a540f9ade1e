"""A sync run's own writes: its start, each page's counters, checkpoint and record outcomes (as run items),
the ids it saw, its close."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

from shared.db.pool import Db, DbConnection
from shared.inbound.checkpoint import SyncCheckpoint
from shared.inbound.classify import StoredTopic
from shared.inbound.completion import may_soft_delete
from shared.messages import deterministic_event_id
from shared.runs.status import TERMINAL_STATUS_VALUES, TERMINAL_STATUSES


@dataclass(frozen=True, slots=True)
class SyncRunState:
    """What the worker re-reads (and, inside a page's transaction, locks) before it moves a run."""

    status: str
    mode: str
    cancel_requested: bool
    checkpoint: SyncCheckpoint | None
    total: int
    invalid: int
    pages: int
    errors_stored: int

    @property
    def is_terminal(self) -> bool:
        """Whether the run has reached a final status."""
        return self.status in TERMINAL_STATUSES


@dataclass(frozen=True, slots=True)
class PageCounts:
    """What one page added to the run's counters."""

    records: int
    inserted: int
    updated: int
    unchanged: int
    invalid: int
    duplicates: int
    errors_stored: int


@dataclass(frozen=True, slots=True)
class RunItems:
    """Records' outcomes (inserted, updated, unchanged) to list as the run's items, keyed by topic id."""

    event_id: uuid.UUID
    topic_ids: list[uuid.UUID]
    outcomes: list[str]


# A record already listed for the run keeps its first outcome.
_LIST_ITEMS = """INSERT INTO run_items (run_id, item_id, outcome, event_id, at)
    SELECT $1, topic_id::text, outcome, ${event}, now()
    FROM unnest(${ids}::uuid[], ${outcomes}::text[]) AS r(topic_id, outcome)
    ON CONFLICT (run_id, item_id) DO NOTHING"""


@dataclass(frozen=True, slots=True)
class SoftDeletes:
    """The outcome of the soft-delete step of a complete full sync."""

    candidates: int  # active topics of the connection that the source no longer lists
    active: int  # active topics of the connection before the step
    deleted: int


async def sync_run_state(db: Db, run_id: uuid.UUID, *, lock: bool = False) -> SyncRunState | None:
    """The run's status, checkpoint and counters; `lock` takes the row lock (inside a transaction)."""
    row = await db.fetchrow(
        f"""SELECT status, mode, cancel_requested, checkpoint, total, invalid, pages, errors_stored
            FROM runs WHERE id = $1 AND kind = 'sync' {"FOR UPDATE" if lock else ""}""",
        run_id,
    )
    if row is None:
        return None
    checkpoint = row["checkpoint"]
    return SyncRunState(
        status=row["status"],
        mode=row["mode"],
        cancel_requested=row["cancel_requested"],
        checkpoint=SyncCheckpoint.model_validate(checkpoint) if checkpoint is not None else None,
        total=row["total"],
        invalid=row["invalid"],
        pages=row["pages"],
        errors_stored=row["errors_stored"],
    )


async def start_sync_run(db: Db, run_id: uuid.UUID, *, total: int, checkpoint: SyncCheckpoint) -> bool:
    """Move a queued run to running with its total and first checkpoint; False if someone else did."""
    result: str = await db.execute(
        """UPDATE runs SET status = 'running', total = $2, checkpoint = $3,
               started_at = COALESCE(started_at, now()), updated_at = now()
           WHERE id = $1 AND checkpoint IS NULL AND status IN ('queued', 'running') AND NOT cancel_requested""",
        run_id,
        total,
        checkpoint.model_dump(mode="json"),
    )
    return result.endswith(" 1")


async def high_water_mark(db: Db, connection_id: uuid.UUID) -> str | None:
    """The connection's incremental mark, None before its first complete run."""
    mark: str | None = await db.fetchval(
        "SELECT high_water_mark FROM sync_state WHERE connection_id = $1", connection_id
    )
    return mark


async def advance_high_water_mark(
    connection: DbConnection, *, org_id: uuid.UUID, connection_id: uuid.UUID, run_id: uuid.UUID, mark: str
) -> None:
    """Store the mark a complete run reached (the caller has already compared it with the old one)."""
    await connection.execute(
        """INSERT INTO sync_state (connection_id, org_id, high_water_mark, last_run_id)
           VALUES ($1, $2, $3, $4)
           ON CONFLICT (connection_id) DO UPDATE SET
               high_water_mark = EXCLUDED.high_water_mark, last_run_id = EXCLUDED.last_run_id, updated_at = now()""",
        connection_id,
        org_id,
        mark,
        run_id,
    )


async def claim_source_ids(
    connection: DbConnection, run_id: uuid.UUID, org_id: uuid.UUID, source_ids: list[str]
) -> tuple[set[str], dict[str, StoredTopic]]:
    """Record the page's source ids as seen by the run, in one statement.

    Returns the ids no earlier page had, and the org's stored topics for those ids (by external id).
    """
    rows = await connection.fetch(
        """WITH claimed AS (
               INSERT INTO sync_seen (run_id, source_id) SELECT $1, unnest($2::text[])
               ON CONFLICT DO NOTHING RETURNING source_id)
           SELECT c.source_id, t.id, t.external_id, t.name, t.parent_category, t.path, t.description, t.cpm,
                  t.attributes, t.status, t.source_connection_id
           FROM claimed c LEFT JOIN topics t ON t.org_id = $3 AND t.external_id = c.source_id""",
        run_id,
        source_ids,
        org_id,
    )
    stored = {
        row["external_id"]: StoredTopic(
            external_id=row["external_id"],
            name=row["name"],
            parent_category=row["parent_category"],
            path=tuple(row["path"]),
            description=row["description"],
            cpm=Decimal(row["cpm"]) if row["cpm"] is not None else None,
            attributes=row["attributes"],
            status=row["status"],
            source_connection_id=row["source_connection_id"],
            topic_id=row["id"],
        )
        for row in rows
        if row["external_id"] is not None
    }
    return {row["source_id"] for row in rows}, stored


async def record_page(
    connection: DbConnection,
    run_id: uuid.UUID,
    counts: PageCounts,
    checkpoint: SyncCheckpoint,
    *,
    pages: int = 1,
    items: RunItems | None = None,
) -> None:
    """Add `pages` consecutive pages (their summed counts) to the run's counters and move its checkpoint
    past the last of them; with `items`, list them as the run's items in the same statement."""
    update = """UPDATE runs SET processed = processed + $2, inserted = inserted + $3, updated = updated + $4,
               unchanged = unchanged + $5, invalid = invalid + $6, skipped = skipped + $7,
               succeeded = succeeded + $3 + $4 + $5, failed = failed + $6, error_count = error_count + $6,
               errors_stored = errors_stored + $8, pages = pages + $10, checkpoint = $9, updated_at = now()
           WHERE id = $1"""
    listed: tuple[object, ...] = ()
    if items is not None and items.topic_ids:
        # One round trip for a commit's items and counters.
        update = f"WITH listed AS ({_LIST_ITEMS.format(event=11, ids=12, outcomes=13)}) {update}"
        listed = (items.event_id, items.topic_ids, items.outcomes)
    await connection.execute(
        update,
        run_id,
        counts.records,
        counts.inserted,
        counts.updated,
        counts.unchanged,
        counts.invalid,
        counts.duplicates,
        counts.errors_stored,
        checkpoint.model_dump(mode="json"),
        pages,
        *listed,
    )


async def record_items(
    connection: DbConnection,
    run_id: uuid.UUID,
    *,
    event_id: uuid.UUID,
    topic_ids: list[uuid.UUID],
    outcomes: list[str],
) -> None:
    """List each record's outcome (inserted, updated, unchanged) as the run's item, keyed by topic id, in
    one statement; a record already listed for the run keeps its first outcome."""
    if not topic_ids:
        return
    await connection.execute(
        _LIST_ITEMS.format(event=2, ids=3, outcomes=4),
        run_id,
        event_id,
        topic_ids,
        outcomes,
    )


async def external_ids_of(connection: DbConnection, topic_ids: list[uuid.UUID]) -> set[str]:
    """The external ids of these topics (which pages of a batch the created topics came from)."""
    rows = await connection.fetch("SELECT external_id FROM topics WHERE id = ANY($1::uuid[])", topic_ids)
    return {row["external_id"] for row in rows}


async def distinct_source_ids(connection: DbConnection, run_id: uuid.UUID) -> int:
    """How many distinct source ids the run has seen."""
    count: int = await connection.fetchval("SELECT count(*) FROM sync_seen WHERE run_id = $1", run_id)
    return count


async def soft_delete_unseen(
    connection: DbConnection,
    *,
    org_id: uuid.UUID,
    connection_id: uuid.UUID,
    run_id: uuid.UUID,
    max_share: float,
) -> SoftDeletes:
    """Mark deleted the connection's active topics the run did not see, unless they exceed `max_share`."""
    row = await connection.fetchrow(
        """SELECT count(*) AS active,
                  count(*) FILTER (WHERE NOT EXISTS (
                      SELECT 1 FROM sync_seen s WHERE s.run_id = $3 AND s.source_id = t.external_id)) AS unseen
           FROM topics t WHERE t.org_id = $1 AND t.source_connection_id = $2 AND t.status = 'active'""",
        org_id,
        connection_id,
        run_id,
    )
    assert row is not None
    active, unseen = int(row["active"]), int(row["unseen"])
    if not may_soft_delete(candidates=unseen, active=active, max_share=max_share):
        return SoftDeletes(candidates=unseen, active=active, deleted=0)
    # The deleted topics are listed as the run's items in the same statement.
    deleted: int = await connection.fetchval(
        """WITH deleted AS (
               UPDATE topics t SET status = 'deleted', updated_at = now()
               WHERE t.org_id = $1 AND t.source_connection_id = $2 AND t.status = 'active'
                 AND NOT EXISTS (SELECT 1 FROM sync_seen s WHERE s.run_id = $3 AND s.source_id = t.external_id)
               RETURNING t.id),
           listed AS (
               INSERT INTO run_items (run_id, item_id, outcome, event_id, at)
               SELECT $3, id::text, 'deleted', $4, now() FROM deleted
               ON CONFLICT (run_id, item_id) DO NOTHING)
           SELECT count(*) FROM deleted""",
        org_id,
        connection_id,
        run_id,
        deterministic_event_id(run_id, "soft deletes"),
    )
    return SoftDeletes(candidates=unseen, active=active, deleted=deleted)


async def close_sync_run(
    connection: DbConnection, run_id: uuid.UUID, *, status: str, reason: str | None
) -> bool:
    """Give the run its final status and forget the ids it saw (inside the caller's transaction)."""
    if reason is not None:
        reason = reason.replace("\x00", "\\x00")  # a source's message may carry NUL, which text refuses
    result: str = await connection.execute(
        """UPDATE runs SET status = $2, status_reason = $3, finished_at = now(), throttled_until = NULL,
               updated_at = now()
           WHERE id = $1 AND status <> ALL($4::text[])""",
        run_id,
        status,
        reason,
        TERMINAL_STATUS_VALUES,
    )
    await connection.execute("DELETE FROM sync_seen WHERE run_id = $1", run_id)
    return result.endswith(" 1")
