"""Postgres stopped under a running push and sync: briefly in the short mode, for 30 s in the long one.

The test has a PostgreSQL cluster of its own (deploy/local/postgres.sh on a free port, its own state
dir) with every service as a process on it and a topic prefix of its own on the suite's broker, so
stopping Postgres disturbs no other test.
"""

from __future__ import annotations

import asyncio
import random
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from shared.db.migrate import apply_migrations
from tests.e2e.chaos.outages import runs_through_an_outage
from tests.e2e.chaos.progress import ProgressProbe
from tests.e2e.chaos.tally import ChaosTable
from tests.e2e.conftest import System, running_system
from tests.support.infra import isolated_settings, required_env
from tests.support.postgres import OwnPostgres

pytestmark = pytest.mark.e2e


@dataclass
class PostgresWorld:
    postgres: OwnPostgres
    system: System


@pytest.fixture(scope="module")
async def postgres_world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[PostgresWorld]:
    """Own cluster, every service on it; all stopped and removed afterwards."""
    kafka = required_env("KAFKA_BOOTSTRAP_SERVERS")
    root = tmp_path_factory.mktemp("chaos-postgres")
    postgres = OwnPostgres.on_free_port(root / "state")
    try:
        await postgres.start()
        await asyncio.to_thread(apply_migrations, postgres.url)
        settings = isolated_settings(postgres.url, kafka, f"pg{secrets.token_hex(3)}.activator")
        async with running_system(settings, root) as system:
            yield PostgresWorld(postgres, system)
    finally:
        await postgres.stop(keep_data=False)


@pytest.mark.parametrize(
    "down_s", [pytest.param(5, id="5s"), pytest.param(30, id="30s", marks=pytest.mark.chaos)]
)
async def test_postgres_stopped_mid_run(
    postgres_world: PostgresWorld, chaos_table: ChaosTable, down_s: int, outage_repetition: int
) -> None:
    rng = random.Random(f"postgres-outage/{down_s}/{outage_repetition}")

    async def stop_postgres(probe: ProgressProbe) -> None:
        probe.fault()
        await postgres_world.postgres.stop()  # data kept
        await asyncio.sleep(down_s)
        await postgres_world.postgres.start()

    await runs_through_an_outage(
        postgres_world.system,
        postgres_world.postgres.url,
        chaos_table,
        scenario=f"Postgres down {down_s} s",
        rng=rng,
        outage=stop_postgres,
    )
