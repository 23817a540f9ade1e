"""A worker's probes: not ready until Postgres answers and its consumers are in their group, not alive once
its event loop stops running, and the HTTP endpoints on METRICS_PORT answering with the codes k8s reads."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, cast

import asyncpg
import pytest
from faststream.kafka import KafkaBroker

from shared.messaging.worker_health import WorkerHealth, consumer_group_state
from tests.support.processes import free_port

STALL_S = 30.0


class FakeClock:
    """The monotonic clock the probes read, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# The shape of aiokafka's consumer that worker_health reads (it has no public "joined" flag).
@dataclass
class FakeCoordinator:
    generation: int = -1
    coordinator_id: int | None = None
    rejoin: bool = True

    def need_rejoin(self, _subscription: object) -> bool:
        return self.rejoin


@dataclass
class FakeSubscriptionState:
    subscription: object = "topics"


@dataclass
class FakeConsumer:
    _coordinator: FakeCoordinator | None = field(default_factory=FakeCoordinator)
    _subscription: FakeSubscriptionState = field(default_factory=FakeSubscriptionState)

    def join(self) -> None:
        """What aiokafka's coordinator holds once the group has given this member a generation."""
        self._coordinator = FakeCoordinator(generation=3, coordinator_id=1, rejoin=False)


@dataclass
class FakeSubscriber:
    consumer: FakeConsumer | None = None
    consumer_subgroup: list[FakeConsumer] = field(default_factory=list)


@dataclass
class FakeBroker:
    subscribers: list[FakeSubscriber] = field(default_factory=list)


class FakePool:
    """Postgres as the probe sees it: `SELECT 1` answers, or fails with `error`."""

    def __init__(self) -> None:
        self.error: BaseException | None = None

    async def fetchval(self, query: str) -> int:
        assert query == "SELECT 1"
        if self.error is not None:
            raise self.error
        return 1


def _broker(*subscribers: FakeSubscriber) -> KafkaBroker:
    return cast("KafkaBroker", FakeBroker(list(subscribers)))


def _pool(pool: FakePool) -> asyncpg.Pool[Any]:
    return cast("asyncpg.Pool[Any]", pool)


async def _eventually(check: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "the probe never changed"
        await asyncio.sleep(0.05)


def _get(port: int, path: str) -> tuple[int, str, bytes]:
    """A probe's request, synchronous like the kubelet's: status, content type, body."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


@pytest.fixture
async def serving() -> AsyncIterator[tuple[WorkerHealth, FakeConsumer, FakePool, int]]:
    """A worker's health on a free port, its one consumer not yet in its group and no pool attached."""
    consumer, pool, port = FakeConsumer(), FakePool(), free_port()
    health = WorkerHealth(_broker(FakeSubscriber(consumer=consumer)), stall_s=STALL_S)
    health.start(port)
    try:
        yield health, consumer, pool, port
    finally:
        await health.stop()


def test_consumers_count_as_in_their_group_only_once_the_group_gave_them_a_generation() -> None:
    assert consumer_group_state(_broker()) == "not started"
    assert consumer_group_state(_broker(FakeSubscriber())) == "not started"
    first, second = FakeConsumer(), FakeConsumer()
    subgroup = _broker(FakeSubscriber(consumer_subgroup=[first, second]))
    assert consumer_group_state(subgroup) == "joining (0/2 in group)"
    first.join()
    assert consumer_group_state(subgroup) == "joining (1/2 in group)"
    second.join()
    assert consumer_group_state(subgroup) == "ok"
    # A rebalance: back to joining until the group settles.
    assert second._coordinator is not None
    second._coordinator.rejoin = True
    assert consumer_group_state(subgroup) == "joining (1/2 in group)"


async def test_not_ready_until_postgres_answers_and_the_consumer_is_in_its_group(
    serving: tuple[WorkerHealth, FakeConsumer, FakePool, int],
) -> None:
    health, consumer, pool, _ = serving
    await _eventually(lambda: health.readiness()[1]["checks"]["kafka"] == "joining (0/1 in group)")
    assert health.readiness() == (
        False,
        {"status": "not ready", "checks": {"postgres": "not connected", "kafka": "joining (0/1 in group)"}},
    )
    health.attach_pool(_pool(pool))
    await _eventually(lambda: health.readiness()[1]["checks"]["postgres"] == "ok")
    assert not health.readiness()[0]
    consumer.join()
    await _eventually(lambda: health.readiness()[0])
    assert health.readiness() == (True, {"status": "ready", "checks": {"postgres": "ok", "kafka": "ok"}})
    # Postgres going away takes the worker out of rotation, with the reason.
    pool.error = ConnectionRefusedError()
    await _eventually(lambda: not health.readiness()[0])
    assert health.readiness()[1]["checks"]["postgres"] == "ConnectionRefusedError"
    assert health.liveness()[0], "a dependency down is not a reason to restart the worker"


def test_liveness_fails_once_the_loop_has_been_silent_for_stall_s() -> None:
    clock = FakeClock()
    health = WorkerHealth(_broker(), stall_s=STALL_S, clock=clock)
    clock.now += STALL_S - 0.1
    assert health.liveness() == (True, {"status": "ok", "loop_silent_s": round(STALL_S - 0.1, 1)})
    clock.now += 0.1
    assert health.liveness() == (False, {"status": "stalled", "loop_silent_s": STALL_S})


async def test_a_stale_last_check_is_not_ready_even_when_it_said_ok() -> None:
    clock, consumer, pool = FakeClock(), FakeConsumer(), FakePool()
    consumer.join()
    health = WorkerHealth(_broker(FakeSubscriber(consumer=consumer)), stall_s=STALL_S, clock=clock)
    health.attach_pool(_pool(pool))
    health.start(0)
    try:
        await _eventually(lambda: health.readiness()[0])
        # The loop stops refreshing (frozen here by the clock jumping ahead between two checks).
        clock.now += 10
        ready, body = health.readiness()
        assert not ready
        assert body["checks"] == {"postgres": "ok", "kafka": "ok"}
        assert health.liveness()[0], "10 s of silence is within stall_s"
    finally:
        await health.stop()


async def test_the_endpoints_answer_with_the_codes_the_probes_read(
    serving: tuple[WorkerHealth, FakeConsumer, FakePool, int],
) -> None:
    health, consumer, pool, port = serving
    status, content_type, body = await asyncio.to_thread(_get, port, "/readyz")
    assert (status, content_type) == (503, "application/json")
    assert json.loads(body)["status"] == "not ready"
    assert (await asyncio.to_thread(_get, port, "/healthz"))[0] == 200

    health.attach_pool(_pool(pool))
    consumer.join()
    await _eventually(lambda: health.readiness()[0])
    status, _, body = await asyncio.to_thread(_get, port, "/readyz?verbose=1")
    assert (status, json.loads(body)) == (
        200,
        {"status": "ready", "checks": {"postgres": "ok", "kafka": "ok"}},
    )

    status, content_type, body = await asyncio.to_thread(_get, port, "/metrics")
    assert status == 200
    assert content_type.startswith("text/plain")
    assert b"# TYPE " in body
    assert (await asyncio.to_thread(_get, port, "/nothing-here"))[0] == 404


async def test_a_blocked_event_loop_answers_503_on_both_probes_until_it_runs_again() -> None:
    consumer, pool, port = FakeConsumer(), FakePool(), free_port()
    consumer.join()
    health = WorkerHealth(_broker(FakeSubscriber(consumer=consumer)), stall_s=0.5)
    health.attach_pool(_pool(pool))
    health.start(port)
    try:
        await _eventually(lambda: health.readiness()[0])
        # A handler that blocks the loop (CPU-bound work, a synchronous call): the server thread still answers.
        time.sleep(0.8)  # noqa: ASYNC251 - the stall under test
        healthz, _, body = _get(port, "/healthz")
        readyz = _get(port, "/readyz")[0]
        assert (healthz, readyz) == (503, 503)
        assert json.loads(body)["status"] == "stalled"
        await _eventually(lambda: _get(port, "/healthz")[0] == 200)
    finally:
        await health.stop()


async def test_stop_closes_the_port() -> None:
    port = free_port()
    health = WorkerHealth(_broker(), stall_s=STALL_S)
    health.start(port)
    assert (await asyncio.to_thread(_get, port, "/healthz"))[0] == 200
    await health.stop()
    with pytest.raises(urllib.error.URLError):
        await asyncio.to_thread(_get, port, "/healthz")
