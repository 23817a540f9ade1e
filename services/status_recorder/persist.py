"""Persists status events idempotently: first terminal result per item wins, counters stay exact."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from shared.db import run_results, run_retries
from shared.messages import ItemResult, RunFinished, RunStarted, StatusTopicEvent
from shared.metrics import RUN_DURATION_SECONDS
from shared.runs.retries import NO_RETRIES, RetryPolicy


async def persist_events(
    pool: asyncpg.Pool[Any],
    events: Sequence[StatusTopicEvent],
    *,
    max_errors_stored: int,
    retries: RetryPolicy = NO_RETRIES,
) -> None:
    """Apply a batch of events in one transaction (run starts, then items, then run ends); a push run
    closed with retryable failures is scheduled for its automatic retry (`retries`) in the same one.

    Sync page events need nothing here: the sync-worker wrote the page's counters itself; neither do
    the intake's answers to requests (the run they name is in Postgres already, a rejection has none)
    nor reviewed activations (the poller wrote the ledger before it published them).
    """
    started = [event for event in events if isinstance(event, RunStarted)]
    items = [event for event in events if isinstance(event, ItemResult)]
    finished = [event for event in events if isinstance(event, RunFinished)]
    async with pool.acquire() as connection, connection.transaction():
        for event in started:
            await run_results.start_run(connection, event)
        if items:
            await run_results.record_items(connection, items, max_errors_stored)
        closed = [await run_results.finish_run(connection, finish) for finish in finished]
        for finish, run in zip(finished, closed, strict=True):
            if run is not None and run.kind == "push":
                await run_retries.schedule_retry(
                    connection,
                    finish.run_id,
                    first_delay_s=retries.first_delay_s,
                    horizon_s=retries.horizon_s,
                )
    for run in closed:
        if run is not None and run.duration_s is not None:
            RUN_DURATION_SECONDS.labels(run.kind, run.status.value).observe(run.duration_s)
