"""A connection's request budget: requests per second, and a pause every caller honours after a Retry-After."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from shared.connectors.auth import Clock
from shared.connectors.retry import Sleep

PauseListener = Callable[[float], Awaitable[None]]
_NEVER = float("-inf")


class ConnectionThrottle:
    """Spaces requests to at most `rps` per second and holds every request while the platform said to wait.

    One throttle per lane of a connection's run inside the worker that holds the lane: a connection's runs
    are leased one at a time (shared/runs/leases.py), and a run split into n lanes gives each a throttle of
    rps / n (shared/runs/lanes.py), so the connection's budget is not passed across replicas. A pause one
    lane hears is kept on the run and taken up by the others before their next batch.
    """

    def __init__(
        self,
        *,
        rps: float | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        on_pause: PauseListener | None = None,
    ) -> None:
        self._interval = 1.0 / rps if rps else 0.0
        self._clock = clock
        self._sleep = sleep
        self._on_pause = on_pause
        self._next_slot = 0.0
        self._last_sent = _NEVER  # when the last request went
        self._paused_until = 0.0
        self._lock = asyncio.Lock()
        self.throttled_s = 0.0

    async def acquire(self) -> None:
        """Wait for the pause to end and for this request's slot in the rate budget."""
        while (wait := self._paused_until - self._clock()) > 0:
            self.throttled_s += wait
            await self._sleep(wait)
        if not self._interval:
            return
        # Each request takes its own slot, `interval` after the one before; once its slot comes it also
        # waits until `interval` after the last request that actually went: one woken late (a busy loop)
        # must not let the ones behind it catch up in a burst, more than `rps` in one second.
        async with self._lock:
            now = self._clock()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self._interval
        slept = slot > now
        if slept:
            self.throttled_s += slot - now
            await self._sleep(slot - now)
        while True:
            async with self._lock:
                at = self._clock()
                gap = self._last_sent + self._interval - at
                # A clock that sleeping does not move (a test's) has served the slot's wait already.
                if gap <= 0 or (slept and at <= now):
                    self._last_sent = at
                    return
            slept = True
            self.throttled_s += gap
            await self._sleep(gap)

    def divide(self, parts: int) -> None:
        """Spend 1/parts of the budget from now on (one lane of a run split into `parts`)."""
        self._interval *= parts

    async def pause(self, seconds: float) -> None:
        """The platform asked to wait: hold every request of this connection for `seconds`."""
        until = self._clock() + seconds
        if until <= self._paused_until:
            return
        self._paused_until = until
        if self._on_pause is not None:
            await self._on_pause(seconds)
