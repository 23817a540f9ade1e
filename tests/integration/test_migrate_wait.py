"""`activator migrate --wait`: a process that needs the schema waits until another has migrated, applying nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator

import pytest

from shared.db.migrate import pending_migrations
from tests.support.infra import own_database

pytestmark = pytest.mark.integration


@pytest.fixture
async def blank_database() -> AsyncIterator[str]:
    async with own_database(migrated=False) as url:
        yield url


def _activator(*args: str) -> list[str]:
    return [sys.executable, "-m", "services", *args]


def _env(database_url: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": database_url, "ACTIVATOR_LOG_FORMAT": "console"}


def test_the_wait_gives_up_on_a_schema_nobody_migrates(blank_database: str) -> None:
    waited = subprocess.run(
        _activator("migrate", "--wait", "--timeout", "1"),
        env=_env(blank_database),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert waited.returncode == 1
    assert "pending migration(s)" in waited.stderr
    assert pending_migrations(blank_database), "the wait applied nothing"


def test_a_pod_waiting_for_the_schema_starts_once_the_job_has_migrated(blank_database: str) -> None:
    waiter = subprocess.Popen(  # the init container, started before the Job
        _activator("migrate", "--wait", "--timeout", "120"),
        env=_env(blank_database),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        job = subprocess.run(
            _activator("migrate"),
            env=_env(blank_database),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert job.returncode == 0, job.stderr
        out, err = waiter.communicate(timeout=60)
    finally:
        waiter.kill()
    assert waiter.returncode == 0, err
    assert "the schema is up to date" in out
    assert pending_migrations(blank_database) == []
