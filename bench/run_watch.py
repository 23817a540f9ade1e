"""Told when a run moved, as the gateway's step loop is (migration 0012's `activator_run_progress`): the
latency scenario reads a run through the API once it moved, instead of polling the gateway every few ms,
which on 2 cores would slow what it measures."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg

from services.gateway.run_progress import CHANNEL


class RunWatch:
    """One LISTEN for the bench; `moved(run_id)` is set whenever that run's counters or status change."""

    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}

    def moved(self, run_id: str) -> asyncio.Event:
        """The run's event (created on first use; clear it before waiting again)."""
        return self._events.setdefault(run_id, asyncio.Event())

    def forget(self, run_id: str) -> None:
        """Stop tracking a run that was seen through."""
        self._events.pop(run_id, None)

    def on_notify(self, _connection: object, _pid: int, _channel: str, payload: object) -> None:
        """The listener: set the event of the run the notification names."""
        event = self._events.get(str(payload))
        if event is not None:
            event.set()


@contextlib.asynccontextmanager
async def watching(pool: asyncpg.Pool[Any]) -> AsyncIterator[RunWatch]:
    """A RunWatch listening on one of the pool's connections for as long as the block runs."""
    watch = RunWatch()
    async with pool.acquire() as connection:
        await connection.add_listener(CHANNEL, watch.on_notify)
        try:
            yield watch
        finally:
            await connection.remove_listener(CHANNEL, watch.on_notify)
