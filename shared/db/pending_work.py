"""Work waiting in Postgres: open runs for the workers (what autoscaling, KEDA's postgresql trigger,
reads), outbox rows for the relay and activations a platform still reviews; what the alerts on waiting
work look at."""

from __future__ import annotations

from dataclasses import dataclass

from shared.db.pool import Db

# The predicate of the runs_open_work index, spelled alike so the planner serves this from it; the same
# condition as the executor's open runs (accepted, work not done, not final). The KEDA ScaledObjects in
# deploy/k8s/base/scaledobjects.yaml repeat it.
OPEN_WORK = "accepted_at IS NOT NULL AND work_done_at IS NULL AND status IN ('queued', 'running')"
# What the open runs give the workers' slots to do: a run's lanes (shared/runs/lanes.py; NULL: one).
OPEN_LANES = "coalesce(sum(coalesce(lanes, 1)), 0)"


@dataclass(frozen=True, slots=True)
class PendingWork:
    """Open runs of one kind, their lanes, the items they have left, and how long the oldest has been open."""

    kind: str
    runs: int
    items_left: int
    oldest_age_s: float
    lanes: int = 0  # what the runs give replicas to work at once (a run split into lanes counts each)


async def pending_work(db: Db) -> dict[str, PendingWork]:
    """Open run work per kind (`push`, `sync`); a kind without open runs reports zeros."""
    rows = await db.fetch(
        f"""SELECT kind, count(*) AS runs, coalesce(sum(greatest(total - processed, 0)), 0) AS items_left,
                   coalesce(extract(epoch FROM now() - min(accepted_at)), 0)::float8 AS oldest_age_s,
                   {OPEN_LANES} AS lanes
            FROM runs WHERE {OPEN_WORK} GROUP BY kind"""
    )
    found = {
        row["kind"]: PendingWork(
            row["kind"], row["runs"], int(row["items_left"]), row["oldest_age_s"], int(row["lanes"])
        )
        for row in rows
    }
    return {kind: found.get(kind, PendingWork(kind, 0, 0, 0.0)) for kind in ("push", "sync")}


async def outbox_oldest_pending_age_s(db: Db) -> float:
    """Seconds the oldest undispatched outbox row has waited (0 when none waits)."""
    age: float = await db.fetchval(
        """SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8
           FROM outbox WHERE dispatched_at IS NULL"""
    )
    return age


# `state = 'pending'` is the predicate of the activations_pending_review index: the ledger is never pruned,
# the pending few are read from the index. pending_since survives re-pushes (migration 0016).
PENDING_REVIEW = """SELECT count(*) AS activations,
                           coalesce(extract(epoch FROM now() - min(pending_since)), 0)::float8 AS oldest_age_s
                    FROM activations WHERE state = 'pending'"""


@dataclass(frozen=True, slots=True)
class PendingReview:
    """Activations the platform has not confirmed yet (state `pending`) and how long the oldest has been pending."""

    activations: int
    oldest_age_s: float


async def activations_pending_review(db: Db) -> PendingReview:
    """Activations awaiting the platform's review or processing, database-wide (zeros when none waits)."""
    row = await db.fetchrow(PENDING_REVIEW)
    assert row is not None  # an aggregate without GROUP BY always returns its one row
    return PendingReview(row["activations"], row["oldest_age_s"])
