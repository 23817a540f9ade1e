"""A worker's background loop (the run executor) comes back after it raised, and stops with the worker."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest

from shared.messaging import worker_app
from shared.messaging.worker_app import keep_running


@dataclass
class Deps:
    pool: Any = None
    stopping: asyncio.Event = field(default_factory=asyncio.Event)


async def test_a_loop_that_raised_is_started_again_until_the_worker_stops(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(worker_app, "BACKGROUND_RESTART_S", 0.01)
    deps = Deps()
    starts: list[int] = []
    third_start = asyncio.Event()

    async def executor(given: Deps) -> None:
        starts.append(len(starts))
        if len(starts) < 3:
            raise RuntimeError("claim failed in a way nobody foresaw")
        third_start.set()
        await given.stopping.wait()  # the third start runs until the worker stops

    task = asyncio.create_task(keep_running(executor, deps))
    await asyncio.wait_for(third_start.wait(), timeout=5)
    assert not task.done()
    deps.stopping.set()
    await asyncio.wait_for(task, timeout=5)
    assert len(starts) == 3


async def test_a_loop_that_returned_early_is_started_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker_app, "BACKGROUND_RESTART_S", 0.01)
    deps = Deps()
    starts: list[int] = []

    async def executor(given: Deps) -> None:
        starts.append(1)
        if len(starts) == 2:
            given.stopping.set()

    await asyncio.wait_for(keep_running(executor, deps), timeout=5)
    assert len(starts) == 2
