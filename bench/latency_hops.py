"""Where a small run's latency goes: each hop's median in ms, read from the timestamps Postgres keeps.

Hops, in order (every timestamp is taken on this host, so the bench's wall clock and Postgres' agree):
- `outbox`: the gateway's transaction to the relay claiming the command (`outbox.dispatched_at`);
- `kafka_to_worker`: the relay's publish to the push-worker marking the run accepted (`accepted_at`);
- `claim_and_setup`: the executor claiming the run and opening it (connection, credentials, template,
  client, count) until the start event is built (`started_at` is that event's time);
- `platform`: reading and planning the batch and the platform's answers, to the last item's event;
- `status_to_recorder`: the events' publish and the recorder's fetch, to its transaction (`updated_at`);
- `readable`: the recorder's commit and the API read that saw every item (the bench's own clock).
"""

from __future__ import annotations

import itertools
import statistics
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

HOPS = ("outbox", "kafka_to_worker", "claim_and_setup", "platform", "status_to_recorder", "readable")


@dataclass(frozen=True, slots=True)
class RunSeen:
    """One measured run: its id, and when (wall clock, seconds since the epoch) every item was readable."""

    run_id: str
    accepted_epoch_s: float
    readable_epoch_s: float


def _ms(later: datetime | float | None, earlier: datetime | float | None) -> float | None:
    if later is None or earlier is None:
        return None
    late = later.timestamp() if isinstance(later, datetime) else later
    early = earlier.timestamp() if isinstance(earlier, datetime) else earlier
    return (late - early) * 1000


async def hop_medians(pool: asyncpg.Pool[Any], runs: list[RunSeen]) -> dict[str, float]:
    """Median ms of each hop over the runs, and each hop's share of their median total."""
    rows = await pool.fetch(
        """SELECT r.id, r.created_at, r.accepted_at, r.started_at, r.updated_at,
                  (SELECT max(o.dispatched_at) FROM outbox o
                   WHERE o.payload->>'run_id' = r.id::text) AS dispatched_at,
                  (SELECT max(i.at) FROM run_items i WHERE i.run_id = r.id) AS last_item_at
           FROM runs r WHERE r.id = ANY($1::uuid[])""",
        [uuid.UUID(run.run_id) for run in runs],
    )
    seen = {run.run_id: run for run in runs}
    per_hop: dict[str, list[float]] = {hop: [] for hop in HOPS}
    for row in rows:
        run = seen[str(row["id"])]
        points: list[datetime | float | None] = [
            row["created_at"],
            row["dispatched_at"],
            row["accepted_at"],
            row["started_at"],
            row["last_item_at"],
            row["updated_at"],
            run.readable_epoch_s,
        ]
        for hop, (earlier, later) in zip(HOPS, itertools.pairwise(points), strict=True):
            value = _ms(later, earlier)
            if value is not None:
                per_hop[hop].append(value)
    medians = {hop: round(statistics.median(values), 1) if values else 0.0 for hop, values in per_hop.items()}
    total = sum(medians.values())
    return {
        **{f"{hop}_ms": value for hop, value in medians.items()},
        **{f"{hop}_share": round(value / total, 3) if total else 0.0 for hop, value in medians.items()},
    }
