"""Run history: an org's runs newest first and each run's item results, in keyset pages.

Pages continue after the last row seen (never an OFFSET), so runs and items written while a client
pages land before its position or after it and no row is skipped or repeated; each query names only
the filters given, so the planner picks the index made for it (migration 0008).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from shared.db.pool import Db
from shared.db.runs import LISTED_COLUMNS, Run
from shared.runs.status import RunStatus


@dataclass(frozen=True, slots=True)
class RunFilters:
    """Which of the org's runs a page holds; None (or empty) means any."""

    connection_id: uuid.UUID | None = None
    kind: str | None = None
    statuses: Sequence[RunStatus] = ()
    since: datetime | None = None  # created at or after
    until: datetime | None = None  # created before
    parent_run_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class RunKey:
    """A run's place in newest-first order: the last run of a page."""

    created_at: datetime
    id: uuid.UUID


class _Where:
    """SQL conditions with their numbered parameters (values never enter the SQL text)."""

    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.args: list[object] = []

    def param(self, value: object) -> str:
        self.args.append(value)
        return f"${len(self.args)}"

    def add(self, clause: str) -> None:
        self.clauses.append(clause)

    @property
    def sql(self) -> str:
        return " AND ".join(self.clauses)


async def list_runs(
    db: Db, org_id: uuid.UUID, filters: RunFilters, *, after: RunKey | None, limit: int
) -> list[Run]:
    """A page of the org's runs matching `filters`, newest first, after `after` (their `request` left empty)."""
    where = _Where()
    where.add(f"org_id = {where.param(org_id)}")
    if filters.connection_id is not None:
        where.add(f"connection_id = {where.param(filters.connection_id)}")
    if filters.kind is not None:
        where.add(f"kind = {where.param(filters.kind)}")
    statuses = sorted({status.value for status in filters.statuses})
    if len(statuses) == 1:
        # Equality, not ANY: lets runs_connection_status_history give the order without sorting.
        where.add(f"status = {where.param(statuses[0])}")
    elif statuses:
        where.add(f"status = ANY({where.param(statuses)}::text[])")
    if filters.since is not None:
        where.add(f"created_at >= {where.param(filters.since)}")
    if filters.until is not None:
        where.add(f"created_at < {where.param(filters.until)}")
    if filters.parent_run_id is not None:
        where.add(f"parent_run_id = {where.param(filters.parent_run_id)}")
    if after is not None:
        where.add(f"(created_at, id) < ({where.param(after.created_at)}, {where.param(after.id)})")
    rows = await db.fetch(
        f"""SELECT {LISTED_COLUMNS} FROM runs WHERE {where.sql}
            ORDER BY created_at DESC, id DESC LIMIT {where.param(limit)}""",
        *where.args,
    )
    return [Run(**dict(row)) for row in rows]


@dataclass(frozen=True, slots=True)
class ItemRecord:
    """One item's terminal result in a run, as the recorder (push) or the page's commit (sync) stored it."""

    item_id: str
    outcome: str
    planned_action: str | None
    segment_name: str | None
    platform_segment_id: str | None
    error_code: str | None
    error_message: str | None
    attempt: int
    at: datetime


async def list_run_items(
    db: Db, run_id: uuid.UUID, outcomes: Sequence[str], *, after: str | None, limit: int
) -> list[ItemRecord]:
    """A page of a run's item results (a push run's topics, a sync run's records) in item id order,
    after the item id `after`."""
    where = _Where()
    where.add(f"run_id = {where.param(run_id)}")
    chosen = sorted(set(outcomes))
    if len(chosen) == 1:
        where.add(f"outcome = {where.param(chosen[0])}")  # run_items_outcome serves the order
    elif chosen:
        where.add(f"outcome = ANY({where.param(chosen)}::text[])")
    if after is not None:
        where.add(f"item_id > {where.param(after)}")
    rows = await db.fetch(
        f"""SELECT item_id, outcome, planned_action, segment_name, platform_segment_id, error_code,
                   error_message, attempt, at
            FROM run_items WHERE {where.sql} ORDER BY item_id LIMIT {where.param(limit)}""",
        *where.args,
    )
    return [ItemRecord(**dict(row)) for row in rows]


async def external_ids(db: Db, org_id: uuid.UUID, topic_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The external ids of those of the org's topics that have one."""
    rows = await db.fetch(
        "SELECT id, external_id FROM topics WHERE org_id = $1 AND id = ANY($2::uuid[]) AND external_id IS NOT NULL",
        org_id,
        list(topic_ids),
    )
    return {row["id"]: row["external_id"] for row in rows}


@dataclass(frozen=True, slots=True)
class LastRun:
    """A connection's newest run, as connection documents summarise it."""

    id: uuid.UUID
    kind: str
    status: str
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class ConnectionRuns:
    """A connection's newest run and when its newest succeeded run finished."""

    last_run: LastRun | None
    last_success_at: datetime | None


async def connection_runs(db: Db, connection_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, ConnectionRuns]:
    """The run summary of each connection, two index probes per connection."""
    rows = await db.fetch(
        """SELECT c.id AS connection_id, last.id, last.kind, last.status, last.finished_at,
                  success.finished_at AS last_success_at
           FROM unnest($1::uuid[]) AS c(id)
           LEFT JOIN LATERAL (
               SELECT id, kind, status, finished_at FROM runs WHERE connection_id = c.id
               ORDER BY created_at DESC, id DESC LIMIT 1) AS last ON true
           -- The newest succeeded run by creation: its finish, without reading every success.
           LEFT JOIN LATERAL (
               SELECT finished_at FROM runs WHERE connection_id = c.id AND status = 'succeeded'
               ORDER BY created_at DESC, id DESC LIMIT 1) AS success ON true""",
        list(connection_ids),
    )
    return {
        row["connection_id"]: ConnectionRuns(
            last_run=LastRun(row["id"], row["kind"], row["status"], row["finished_at"])
            if row["id"] is not None
            else None,
            last_success_at=row["last_success_at"],
        )
        for row in rows
    }
