"""Waiting for a run to move: the guide's client loop answers once the next batch or page is recorded.

Postgres says when a run moved: migration 0012 notifies `activator_run_progress` with the run's id when
its counters, pages, status or start change, at the writer's commit. One listening connection per gateway
process wakes the requests waiting on that run, which then read it once; nobody polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Annotated

import asyncpg
import structlog
from fastapi import Depends, Request

from shared.db import runs as repo
from shared.db.pool import Db, PgPool
from shared.start_order import Backoff

log = structlog.get_logger(__name__)

CHANNEL = "activator_run_progress"
# Without the listener (starting, or reconnecting after Postgres went away) a wait polls as it used to.
_POLL_S = 0.05
# With it, a wait re-reads this often all the same: a notification lost with a dropped connection then
# costs a second, not the whole step timeout.
_SAFETY_S = 1.0
# How often the idle listening connection proves it is alive (a dead socket tells nobody).
_LIVENESS_S = 10.0
_DB_DOWN = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)

Progressed = Callable[[repo.Run], bool]


class RunProgress:
    """One LISTEN per gateway process; `wait` answers when the run moved as the caller wanted."""

    def __init__(self, pool: PgPool, *, retry_max_s: float = 15.0) -> None:
        self._pool = pool
        self._retry_max_s = retry_max_s
        self._waiters: dict[uuid.UUID, set[asyncio.Event]] = {}
        self._listening = asyncio.Event()
        self._connections = 0  # listening connections opened so far
        self._task: asyncio.Task[None] | None = None

    @property
    def listening(self) -> asyncio.Event:
        """Set while notifications arrive (else a wait polls)."""
        return self._listening

    def start(self) -> None:
        """Listen in the background, reconnecting with backoff while Postgres is away."""
        self._task = asyncio.create_task(self._listen_forever(), name="run-progress")

    async def stop(self) -> None:
        """Stop listening (the gateway is shutting down)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _listen_forever(self) -> None:
        backoff = Backoff(self._retry_max_s)
        while True:
            opened = self._connections
            try:
                await self._listen()
            except _DB_DOWN as exc:
                if self._connections != opened:
                    backoff = Backoff(self._retry_max_s)  # it was up: back off afresh
                delay = backoff.next_delay()
                log.warning(
                    "run_progress_listener_down", error_type=type(exc).__name__, retry_in_s=round(delay, 1)
                )
                await asyncio.sleep(delay)

    async def _listen(self) -> None:
        """Listen on one pooled connection until it is lost (raises then)."""
        async with self._pool.acquire() as connection:
            lost = asyncio.Event()
            connection.add_termination_listener(lambda _connection: lost.set())
            await connection.add_listener(CHANNEL, self._on_notify)
            self._listening.set()
            self._connections += 1
            try:
                # Whatever moved while nobody listened: every waiter reads its run again.
                self._wake_all()
                while not lost.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(lost.wait(), timeout=_LIVENESS_S)
                    if not lost.is_set():
                        await connection.fetchval("SELECT 1", timeout=5)
                raise ConnectionResetError("the listening connection was closed")
            finally:
                self._listening.clear()
                self._wake_all()
                with contextlib.suppress(*_DB_DOWN):
                    await connection.remove_listener(CHANNEL, self._on_notify)

    def _on_notify(self, _connection: object, _pid: int, _channel: str, payload: object) -> None:
        try:
            run_id = uuid.UUID(str(payload))
        except ValueError:
            return
        for moved in self._waiters.get(run_id, ()):
            moved.set()

    def _wake_all(self) -> None:
        for waiters in self._waiters.values():
            for moved in waiters:
                moved.set()

    @contextlib.contextmanager
    def _watch(self, run_id: uuid.UUID) -> Iterator[asyncio.Event]:
        moved = asyncio.Event()
        self._waiters.setdefault(run_id, set()).add(moved)
        try:
            yield moved
        finally:
            waiters = self._waiters.get(run_id, set())
            waiters.discard(moved)
            if not waiters:
                self._waiters.pop(run_id, None)

    async def wait(
        self,
        db: Db,
        org_id: uuid.UUID,
        run: repo.Run,
        progressed: Progressed,
        *,
        timeout_s: float,
    ) -> repo.Run:
        """The run once `progressed` holds or it is terminal; on timeout the run as it stands."""
        deadline = time.monotonic() + timeout_s
        with self._watch(run.id) as moved:
            while True:
                # Read first, once watching: a batch recorded before the watch began is not waited for.
                current = await repo.get_run(db, org_id, run.id)
                if current is None:
                    break  # deleted with its connection meanwhile: the caller answers with what it has
                run = current
                remaining = deadline - time.monotonic()
                if run.is_terminal or progressed(run) or remaining <= 0:
                    break
                moved.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        moved.wait(),
                        timeout=min(remaining, _SAFETY_S if self._listening.is_set() else _POLL_S),
                    )
        return run


def _run_progress(request: Request) -> RunProgress:
    progress: RunProgress = request.app.state.run_progress
    return progress


Progress = Annotated[RunProgress, Depends(_run_progress)]


def moved_past(run: repo.Run) -> Progressed:
    """True once an auto run has recorded more than it had when the client asked."""
    processed, pages = run.processed, run.pages
    return lambda now: now.processed > processed or now.pages > pages


def started(now: repo.Run) -> bool:
    """True once a worker has started the run (a sync run has its count then)."""
    return now.started_at is not None
