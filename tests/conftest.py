"""Session-wide real infrastructure: an isolated database and Kafka topic prefix per run of the suite."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn

from services.gateway.app import build_app
from shared.db.orgs import create_org
from shared.db.pool import create_pool
from shared.logging import configure_logging
from shared.settings import Settings
from tests.support.api_capture import API_RESPONSES, ApiResponses
from tests.support.infra import (
    create_test_database,
    drop_test_database,
    isolated_settings,
    required_env,
)
from tests.support.log_capture import CAPTURED, LAST, CapturedOutput
from tests.support.processes import free_port


def pytest_configure(config: pytest.Config) -> None:
    """Keep every test's captured output and API responses for the leak check, and run that check last."""
    config.addinivalue_line("markers", f"{LAST}: runs after every other test of the session")
    collector = CapturedOutput()
    config.stash[CAPTURED] = collector
    config.pluginmanager.register(collector, "activator-captured-output")
    responses = ApiResponses()
    responses.install()
    config.stash[API_RESPONSES] = responses


def pytest_unconfigure(config: pytest.Config) -> None:
    """Leave httpx as it was found."""
    if API_RESPONSES in config.stash:
        config.stash[API_RESPONSES].uninstall()


@pytest.fixture(scope="session")
async def settings() -> AsyncIterator[Settings]:
    """Settings pointing at a fresh migrated database and a topic prefix of this session."""
    base_url = required_env("DATABASE_URL")
    kafka = required_env("KAFKA_BOOTSTRAP_SERVERS")
    database_url = await create_test_database(base_url)
    configure_logging("INFO", "console")
    try:
        yield isolated_settings(database_url, kafka, f"t{secrets.token_hex(3)}.activator")
    finally:
        await drop_test_database(base_url, database_url)


@pytest.fixture(scope="session")
async def pool(settings: Settings) -> AsyncIterator[asyncpg.Pool[Any]]:
    """A pool on the session's database."""
    db = await create_pool(settings.database_url, max_size=5)
    yield db
    await db.close()


@contextlib.asynccontextmanager
async def serve_in_process(app: Any, port: int) -> AsyncIterator[str]:
    """Run an ASGI app on a real loopback socket inside the test's event loop."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    task = asyncio.create_task(server.serve())
    for _ in range(300):
        if server.started:
            break
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture(scope="session")
async def gateway_url(settings: Settings) -> AsyncIterator[str]:
    """The gateway (with its outbox relay) serving on a loopback port."""
    async with serve_in_process(build_app(settings), free_port()) as url:
        yield url


@pytest.fixture
async def api(gateway_url: str, pool: asyncpg.Pool[Any]) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client authenticated as a fresh org of its own (tests never share an org's limits)."""
    _org_id, api_key = await create_org(pool, f"test-{secrets.token_hex(3)}")
    async with httpx.AsyncClient(
        base_url=gateway_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=30
    ) as client:
        yield client
