"""Gauges of open run work, the outbox backlog's age and activations pending a platform's review,
queried on every scrape of /metrics.

Every gateway replica reports the same database-wide figures: aggregate with max(), not sum().
"""

from __future__ import annotations

import asyncio

import structlog
from prometheus_client import Gauge

from shared.db.pending_work import activations_pending_review, outbox_oldest_pending_age_s, pending_work
from shared.db.pool import PgPool

log = structlog.get_logger(__name__)

OPEN_RUNS = Gauge("activator_open_runs", "Runs accepted by a worker whose work is not done", ["kind"])
OPEN_LANES = Gauge(
    "activator_open_run_lanes",
    "Lanes of the open runs (a big push run split into lanes counts each): what the workers' slots take",
    ["kind"],
)
ITEMS_LEFT = Gauge(
    "activator_open_run_items_remaining", "Items the open runs have still to process", ["kind"]
)
OLDEST_AGE = Gauge(
    "activator_open_run_oldest_age_seconds", "Time since the oldest open run was accepted", ["kind"]
)
OUTBOX_AGE = Gauge(
    "activator_outbox_oldest_age_seconds", "Time the oldest outbox row not yet published has waited"
)
PENDING_REVIEW = Gauge(
    "activator_activations_pending_review",
    "Activations the platform has not confirmed yet (review or processing, state pending)",
)
PENDING_REVIEW_AGE = Gauge(
    "activator_activations_pending_review_oldest_age_seconds",
    "Time the oldest activation still pending has waited for the platform's review",
)

_QUERY_TIMEOUT_S = 2.0


async def refresh_pending_work(pool: PgPool) -> None:
    """Set the gauges from Postgres; on failure they keep their last values (the scrape still answers)."""
    try:
        async with asyncio.timeout(_QUERY_TIMEOUT_S):
            work = await pending_work(pool)
            outbox_age = await outbox_oldest_pending_age_s(pool)
            review = await activations_pending_review(pool)
    except Exception as exc:  # a scrape must not fail because Postgres is slow or away
        log.warning("pending_work_failed", error_type=type(exc).__name__)
        return
    for kind, figures in work.items():
        OPEN_RUNS.labels(kind).set(figures.runs)
        OPEN_LANES.labels(kind).set(figures.lanes)
        ITEMS_LEFT.labels(kind).set(figures.items_left)
        OLDEST_AGE.labels(kind).set(figures.oldest_age_s)
    OUTBOX_AGE.set(outbox_age)
    PENDING_REVIEW.set(review.activations)
    PENDING_REVIEW_AGE.set(review.oldest_age_s)
