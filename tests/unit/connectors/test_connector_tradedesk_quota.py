"""The Trade Desk client under TTD's per-minute quota: a 429's Retry-After pauses the connection, nothing is lost."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from services.mock_platforms import MockState, build_app
from shared.connectors import (
    ConnectorDeps,
    CreateOperation,
    CreateSegmentParams,
    ErrorClass,
    HttpSettings,
    PlatformClient,
    apply_batch,
    create_platform_client,
)
from shared.connectors.throttle import ConnectionThrottle

CONFIG = {
    "api_base_url": "http://mock/ttd",
    "provider_id": "acme",
    "brand_id": "acme-brand",
    "partner_id": "p1",
    "default_cpm": 1,
    "currency": "USD",
}


class SharedTime:
    """One clock for the mock and the client; a sleep moves it to when that sleeper wakes."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now = max(self.now, self.now + seconds)


@pytest.fixture
def time() -> SharedTime:
    return SharedTime()


@pytest.fixture
def state(time: SharedTime) -> MockState:
    return MockState(clock=time)


@pytest.fixture
async def admin(state: MockState) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://mock") as client:
        await client.post("/admin/tenants", json={"platform": "ttd", "credentials": {"api_key": "ttd-token"}})
        await client.put("/admin/settings/ttd", json={"processing_delay_s": 0})
        yield client


def _client(
    state: MockState, time: SharedTime, throttle: ConnectionThrottle, settings: HttpSettings
) -> PlatformClient:
    deps = ConnectorDeps(
        transport=httpx.ASGITransport(app=build_app(state)), sleep=time.sleep, clock=time, throttle=throttle
    )
    return create_platform_client(
        "tradedesk", "bearer", {"api_key": "ttd-token"}, CONFIG, settings=settings, deps=deps
    )


def _creates(count: int) -> list[CreateOperation]:
    return [
        CreateOperation(
            CreateSegmentParams(
                name=f"Segment {n}", description="", cpm=2.5, currency="USD", external_key=f"k{n}"
            )
        )
        for n in range(count)
    ]


async def test_a_push_over_the_quota_pauses_on_retry_after_and_loses_nothing(
    admin: httpx.AsyncClient, state: MockState, time: SharedTime
) -> None:
    await admin.put("/admin/settings/ttd", json={"rate_limit": 5, "rate_limit_window_s": 60})
    pauses: list[float] = []

    async def paused(seconds: float) -> None:
        pauses.append(seconds)

    throttle = ConnectionThrottle(clock=time, sleep=time.sleep, on_pause=paused)
    client = _client(state, time, throttle, HttpSettings())
    started = time.now
    outcomes = await apply_batch(client, _creates(12), concurrency=4)
    assert [outcome.error for outcome in outcomes] == [None] * 12
    stats = (await admin.get("/admin/stats/ttd")).json()
    assert stats["rate_limited"] > 0  # the quota was hit ...
    assert stats["segments"] == 12
    assert stats["duplicates"] == 0
    held = (await admin.get("/admin/segments/ttd")).json()["segments"]
    assert all(element["DataRate"]["CPMRate"]["Amount"] == 2.5 for element in held)
    # 12 elements and 1 rate batch at 5 per endpoint per minute: the connection waited out the windows
    # the platform named, not the 1 s / 2 s backoff.
    assert pauses
    assert all(pause >= 1 for pause in pauses)
    assert time.now - started >= 120
    assert 1.0 not in time.sleeps
    assert 2.0 not in time.sleeps
    await client.aclose()


async def test_a_quota_outlasting_the_retries_fails_the_item_as_rate_limited(
    admin: httpx.AsyncClient, state: MockState, time: SharedTime
) -> None:
    await admin.put("/admin/settings/ttd", json={"rate_limit": 1, "rate_limit_window_s": 600})
    throttle = ConnectionThrottle(clock=time, sleep=time.sleep)
    # Waits capped at 5 s, against a window of 10 minutes: the item gives up after its attempts.
    client = _client(state, time, throttle, HttpSettings(retry_after_cap_s=5))
    first, second = await apply_batch(client, _creates(2), concurrency=1)
    assert first.error is None  # the rate batch is another endpoint, with a quota of its own
    assert second.error is not None
    assert second.error.error_class is ErrorClass.RATE_LIMITED
    assert second.error.code == "rate_limited:429"
    assert second.error.retry_after == 590  # what the platform said after the two capped 5 s waits
    assert second.error.transient  # the retry horizon takes it up later; it is not a permanent failure
    await client.aclose()
