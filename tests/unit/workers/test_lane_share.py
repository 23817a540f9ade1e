"""A lane's share of its connection's budget: the lanes' concurrency adds up to the connection's, and each
spends 1/lanes of its rate limit."""

from __future__ import annotations

from typing import Any, cast

import pytest

from services.push_worker.run_setup import OpenedRun
from shared.connectors.throttle import ConnectionThrottle


class StandingClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _opened(concurrency: int, throttle: ConnectionThrottle) -> OpenedRun:
    unused = cast(Any, None)
    return OpenedRun(
        command_ref=unused,
        connection=unused,
        client=unused,
        throttle=throttle,
        context=unused,
        plan=unused,
        concurrency=concurrency,
        dry_run=False,
        deps=unused,
    )


@pytest.mark.parametrize(("concurrency", "lanes"), [(8, 2), (4, 3), (5, 4), (8, 1), (2, 2)])
def test_the_lanes_concurrency_adds_up_to_the_connections(concurrency: int, lanes: int) -> None:
    parts = []
    for lane in range(lanes):
        opened = _opened(concurrency, ConnectionThrottle())
        opened.share(lane, lanes)
        parts.append(opened.concurrency)
    assert sum(parts) == concurrency
    assert min(parts) >= 1
    assert max(parts) - min(parts) <= 1


async def test_a_lane_spends_its_part_of_the_rate_limit() -> None:
    clock = StandingClock()
    throttle = ConnectionThrottle(rps=40, clock=clock, sleep=clock.sleep)
    _opened(8, throttle).share(1, 2)
    for _ in range(5):
        await throttle.acquire()
    assert clock.now == pytest.approx(4 / 20)  # five requests at 20/s: the first at once, then 1/20 s apart
