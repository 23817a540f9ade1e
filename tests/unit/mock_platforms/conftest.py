"""Fixtures of the mock platforms' unit tests: the app in-process, on a clock the test moves."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from services.mock_platforms import MockState, build_app
from tests.unit.mock_platforms.mock_platforms_fakes import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def state(clock: FakeClock) -> MockState:
    return MockState(clock=clock)


@pytest.fixture
async def client(state: MockState) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://mock") as http:
        yield http
