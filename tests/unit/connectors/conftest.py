"""Fixtures of the connector unit tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shared.connectors import reset_token_cache
from tests.unit.connectors.connector_fakes import FakeSleep


@pytest.fixture
def fake_sleep() -> FakeSleep:
    return FakeSleep()


@pytest.fixture(autouse=True)
def _fresh_token_cache() -> Iterator[None]:
    reset_token_cache()
    yield
    reset_token_cache()
