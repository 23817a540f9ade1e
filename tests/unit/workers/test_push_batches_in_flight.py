"""The push-worker's batches in flight: every one is awaited, whichever of them the platform refused."""

from __future__ import annotations

import asyncio
from collections import deque

import pytest

from services.push_worker.handler import drain
from shared.connectors import ErrorClass, PlatformError


async def _batch(outcome: PlatformError | None, done: list[int], index: int) -> PlatformError | None:
    await asyncio.sleep(0.01 * index)
    done.append(index)
    return outcome


@pytest.mark.timeout(10)  # a drain that spins never yields: only the timeout's signal can stop it
async def test_a_refused_batch_does_not_leave_the_others_unawaited() -> None:
    refused = PlatformError(ErrorClass.AUTH, "401 from the platform")
    done: list[int] = []
    in_flight = deque(
        asyncio.create_task(_batch(outcome, done, index))
        for index, outcome in enumerate([refused, None, PlatformError(ErrorClass.AUTH, "again")])
    )
    first = await asyncio.wait_for(drain(in_flight, keep=0, refusal=None), timeout=5)
    assert first is refused
    assert not in_flight
    assert done == [0, 1, 2]


@pytest.mark.timeout(10)
async def test_drain_leaves_the_newest_batches_in_flight() -> None:
    done: list[int] = []
    in_flight = deque(asyncio.create_task(_batch(None, done, index)) for index in range(3))
    earlier = PlatformError(ErrorClass.AUTH, "seen before")
    assert await asyncio.wait_for(drain(in_flight, keep=1, refusal=earlier), timeout=5) is earlier
    assert len(in_flight) == 1
    assert done == [0, 1]
    await in_flight.popleft()
