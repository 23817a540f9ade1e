"""Real Kafka and Postgres for tests: an isolated database and topic prefix per test session."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from shared.db.migrate import apply_migrations
from shared.db.pool import create_pool
from shared.settings import Settings

TEST_ENCRYPTION_KEY = "test-only-credentials-key-0123456789"
TEST_DEV_API_KEY = "act_test_dev_key_0123456789abcdef"

TOPIC_PREFIXES: set[tuple[str, str]] = set()
"""(bootstrap servers, topic prefix) of every world the session made, for the leak check's Kafka scan."""


def required_env(name: str) -> str:
    """An infrastructure address the suite needs; `make test` provides it."""
    value = os.environ.get(name)
    if not value:
        msg = f"{name} is not set: run the suite with `make test`, which starts Kafka and Postgres"
        raise RuntimeError(msg)
    return value


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


async def create_test_database(
    base_url: str, *, migrated: bool = True, prefix: str = "activator_test"
) -> str:
    """Create a fresh database beside the given one (migrated unless told otherwise) and return its URL."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(base_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = _with_database(base_url, name)
    if migrated:
        apply_migrations(url)
    return url


_DROP_ATTEMPTS = 40
_DROP_RETRY_S = 0.25


async def drop_test_database(base_url: str, test_url: str) -> None:
    """Drop a database made by create_test_database.

    FORCE ends the test's own leftover connections, but not an autovacuum worker that happens to be on
    the database (a non-superuser may not end it: InsufficientPrivilegeError, seen on a fresh-clone CI
    run); such a worker finishes a small database within moments, so the drop is tried again."""
    name = urlsplit(test_url).path.lstrip("/")
    admin = await asyncpg.connect(base_url)
    try:
        for attempt in range(_DROP_ATTEMPTS):
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                return
            except (asyncpg.InsufficientPrivilegeError, asyncpg.ObjectInUseError):
                if attempt == _DROP_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(_DROP_RETRY_S)
    finally:
        await admin.close()


@contextlib.asynccontextmanager
async def own_database(*, migrated: bool = True, prefix: str = "activator_test") -> AsyncIterator[str]:
    """A fresh database beside the suite's (DATABASE_URL), dropped afterwards; its URL."""
    base_url = required_env("DATABASE_URL")
    url = await create_test_database(base_url, migrated=migrated, prefix=prefix)
    try:
        yield url
    finally:
        await drop_test_database(base_url, url)


@contextlib.asynccontextmanager
async def own_database_pool(
    *, max_size: int = 2, prefix: str = "activator_test"
) -> AsyncIterator[tuple[str, asyncpg.Pool[Any]]]:
    """A fresh migrated database and a pool on it, both gone afterwards: (URL, pool)."""
    async with own_database(prefix=prefix) as url:
        pool = await create_pool(url, max_size=max_size)
        try:
            yield url, pool
        finally:
            await pool.close()


def isolated_settings(database_url: str, kafka: str, prefix: str, **overrides: object) -> Settings:
    """Settings for one test session's isolated world."""
    values: dict[str, object] = {
        "database_url": database_url,
        "kafka_bootstrap_servers": kafka,
        "kafka_topic_prefix": prefix,
        "kafka_partitions": 4,
        "credentials_encryption_key": TEST_ENCRYPTION_KEY,
        "activator_dev_api_key": TEST_DEV_API_KEY,
        "activator_egress_allow_private": True,
        "activator_log_format": "console",
        "outbox_poll_interval_s": 0.1,
    }
    values.update(overrides)
    TOPIC_PREFIXES.add((kafka, prefix))
    return Settings.model_validate(values)


def service_env(settings: Settings) -> dict[str, str]:
    """Environment for a service process started by a test, matching `settings`."""
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": settings.database_url,
            "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
            "KAFKA_TOPIC_PREFIX": settings.kafka_topic_prefix,
            "KAFKA_PARTITIONS": str(settings.kafka_partitions),
            "CREDENTIALS_ENCRYPTION_KEY": settings.credentials_encryption_key.get_secret_value(),
            "ACTIVATOR_DEV_API_KEY": TEST_DEV_API_KEY,
            "ACTIVATOR_EGRESS_ALLOW_PRIVATE": "true",
            "ACTIVATOR_LOG_FORMAT": "json",
            "OUTBOX_POLL_INTERVAL_S": str(settings.outbox_poll_interval_s),
        }
    )
    return env
