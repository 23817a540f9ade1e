"""Waiting for a run to move: the guide's client loop answers once the next batch or page is recorded."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

from shared.db import runs as repo
from shared.db.pool import Db

_POLL_S = 0.05

Progressed = Callable[[repo.Run], bool]


async def wait_for_progress(
    pool: Db,
    org_id: uuid.UUID,
    run_id: uuid.UUID,
    run: repo.Run,
    progressed: Progressed,
    *,
    timeout_s: float,
) -> repo.Run:
    """The run once `progressed` holds or it is terminal; on timeout the run as it stands."""
    deadline = time.monotonic() + timeout_s
    while not run.is_terminal and not progressed(run) and time.monotonic() < deadline:
        await asyncio.sleep(_POLL_S)
        current = await repo.get_run(pool, org_id, run_id)
        if current is None:
            break  # deleted with its connection meanwhile: the caller answers with what it has
        run = current
    return run


def moved_past(run: repo.Run) -> Progressed:
    """True once an auto run has recorded more than it had when the client asked."""
    processed, pages = run.processed, run.pages
    return lambda now: now.processed > processed or now.pages > pages


def started(now: repo.Run) -> bool:
    """True once a worker has started the run (a sync run has its count then)."""
    return now.started_at is not None
