"""kill -9 of a push-worker, a sync-worker or the status-recorder at seeded points of a run, repeated.

Each repetition is seeded by its scenario and number: the platform, the crash points (one or two per
run), and how long the service stays down are the same on every machine. After the run ends: every
item has exactly one terminal result, the counters are exact, the platform holds one segment per topic
and no topic was synced twice. The chaos table's stall columns: the longest time the run's processed
count stood still after a kill (tests/e2e/chaos/progress.py).
"""

from __future__ import annotations

import random
from typing import Any

import asyncpg
import httpx
import pytest

from shared.settings import Settings
from tests.e2e.chaos.progress import probing
from tests.e2e.chaos.runs import (
    PLATFORMS,
    crash,
    crash_points,
    finish_push,
    push_run,
    reached,
    sync_run,
    wait_final,
    wait_for,
)
from tests.e2e.chaos.tally import ChaosTable, report, tally_push, tally_sync
from tests.e2e.conftest import System
from tests.e2e.helpers import org_client

pytestmark = pytest.mark.e2e

PUSH_TOPICS = 1_000  # two lanes (PUSH_LANE_MIN_ITEMS 500): each kill lands on a run pushed in lanes
SYNC_RECORDS = 6_000
SYNC_PAGE_SIZE = 200


@pytest.mark.parametrize("service", ["push-worker", "status-recorder"])
async def test_kill_9_during_a_push_run(
    system: System,
    settings: Settings,
    pool: asyncpg.Pool[Any],
    chaos_table: ChaosTable,
    service: str,
    repetition: int,
) -> None:
    rng = random.Random(f"{service}/{repetition}")
    platform = PLATFORMS[(repetition + (service == "status-recorder")) % len(PLATFORMS)]
    async with (
        await org_client(pool, system.gateway_url) as api,
        httpx.AsyncClient(base_url=system.mock_url, timeout=60) as mock,
        probing(settings.database_url) as probe,
    ):
        await mock.post("/admin/reset")
        connection_id, run_id = await push_run(
            api, mock, system.mock_url, system.mock_sftp_port, platform=platform, topics=PUSH_TOPICS
        )
        probe.watch(run_id, "push")
        for point in crash_points(rng, PUSH_TOPICS):
            at_crash = await wait_for(api, connection_id, run_id, reached("processed", point))
            print(f"{service} killed at {at_crash['processed']}/{PUSH_TOPICS} items ({at_crash['status']})")
            probe.fault()
            await crash(system.services[service], rng)
        final, stats = await finish_push(api, mock, connection_id, run_id, platform=platform)
    tally = await tally_push(f"kill -9 {service} (push)", pool, final, stats, topics=PUSH_TOPICS)
    tally.stall_s = probe.stall_s(run_id)
    report(chaos_table, tally)


async def test_kill_9_of_the_sync_worker_during_a_sync_run(
    system: System, settings: Settings, pool: asyncpg.Pool[Any], chaos_table: ChaosTable, repetition: int
) -> None:
    rng = random.Random(f"sync-worker/{repetition}")
    pages = SYNC_RECORDS // SYNC_PAGE_SIZE
    async with (
        await org_client(pool, system.gateway_url) as api,
        httpx.AsyncClient(base_url=system.mock_url, timeout=120) as mock,
        probing(settings.database_url) as probe,
    ):
        await mock.post("/admin/reset")
        connection_id, run_id = await sync_run(
            api,
            mock,
            system.mock_url,
            records=SYNC_RECORDS,
            page_size=SYNC_PAGE_SIZE,
            cursor=repetition % 2 == 1,
            seed=rng.randrange(1_000_000),
        )
        probe.watch(run_id, "sync")
        for point in crash_points(rng, pages):
            at_crash = await wait_for(api, connection_id, run_id, reached("pages", point), kind="sync")
            print(f"sync-worker killed at page {at_crash['pages']}/{pages} ({at_crash['status']})")
            probe.fault()
            await crash(system.services["sync-worker"], rng)
        final = await wait_final(api, connection_id, run_id, kind="sync")
        await mock.delete("/admin/faults/dmp")
    tally = await tally_sync("kill -9 sync-worker (sync)", pool, final, records=SYNC_RECORDS, pages=pages)
    tally.stall_s = probe.stall_s(run_id)
    report(chaos_table, tally)
