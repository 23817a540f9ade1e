"""The connection's request budget: requests spaced by 1/rps from when the last one actually went."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable

from shared.connectors.throttle import ConnectionThrottle


class LateClock:
    """Virtual time: a sleep wakes when the clock reaches its due time plus `late_s` (a busy event loop),
    the sleepers woken in order of their wake times, the clock moved to each in turn."""

    def __init__(self, late_s: float = 0.0) -> None:
        self.now = 0.0
        self.late_s = late_s
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        waker: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + seconds + self.late_s, next(self._order), waker))
        await waker

    async def run(self, work: Awaitable[object]) -> None:
        """Run `work`, moving the clock to the next wake time whenever every task waits on a sleep."""
        task = asyncio.ensure_future(work)
        while not task.done():
            for _ in range(20):  # let every runnable task reach its next sleep
                await asyncio.sleep(0)
            if self._sleepers and not task.done():
                at, _, waker = heapq.heappop(self._sleepers)
                self.now = max(self.now, at)
                waker.set_result(None)
        await task


def _fullest_second(times: list[float]) -> int:
    # A half-open second, less a nanosecond of float rounding (40 gaps of 0.025 s may sum under 1.0).
    return max(sum(1 for t in times if start <= t < start + 1.0 - 1e-9) for start in times)


async def _granted(clock: LateClock, rps: float, requests: int, callers: int) -> list[float]:
    throttle = ConnectionThrottle(rps=rps, clock=clock, sleep=clock.sleep)
    times: list[float] = []

    async def caller(count: int) -> None:
        for _ in range(count):
            await throttle.acquire()
            times.append(clock.now)

    await clock.run(asyncio.gather(*(caller(requests // callers) for _ in range(callers))))
    return sorted(times)


async def test_requests_are_spaced_and_never_more_than_rps_in_a_second() -> None:
    times = await _granted(LateClock(), rps=40, requests=200, callers=8)
    assert len(times) == 200
    assert _fullest_second(times) <= 40
    assert times[-1] >= 199 / 40 - 1e-9  # the budget is used, not undershot


async def test_late_wakeups_do_not_let_the_requests_behind_catch_up_in_a_burst() -> None:
    # Every sleep wakes 60 ms late: pre-assigned slots would send the waiting requests back to back.
    times = await _granted(LateClock(late_s=0.06), rps=40, requests=200, callers=8)
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert min(gaps) >= 1 / 40 - 1e-9
    assert _fullest_second(times) <= 40


async def test_without_a_rate_nothing_waits() -> None:
    clock = LateClock()
    throttle = ConnectionThrottle(rps=None, clock=clock, sleep=clock.sleep)
    for _ in range(100):
        await throttle.acquire()
    assert clock.now == 0.0
