"""Infrastructure outages under a running push and sync: the runs in flight, how long the outage stalled
them, and a run started afterwards."""

from __future__ import annotations

import random
import secrets
from collections.abc import Awaitable, Callable

import httpx

from shared.db.orgs import create_org
from shared.db.pool import create_pool
from tests.e2e.chaos.progress import ProgressProbe, probing
from tests.e2e.chaos.runs import PLATFORMS, finish_push, push_run, reached, sync_run, wait_final, wait_for
from tests.e2e.chaos.tally import ChaosTable, Tally, tally_push, tally_sync
from tests.e2e.conftest import System

PUSH_TOPICS = 1_000
SYNC_RECORDS = 6_000
SYNC_PAGE_SIZE = 200
AFTER_TOPICS = 100

# Causes the outage and calls `probe.fault()` the moment it begins, then ends it.
Outage = Callable[[ProgressProbe], Awaitable[None]]


async def _org_keys(database_url: str, count: int) -> list[str]:
    pool = await create_pool(database_url, max_size=2)
    try:
        return [(await create_org(pool, f"chaos-{secrets.token_hex(3)}"))[1] for _ in range(count)]
    finally:
        await pool.close()


def _client(system: System, api_key: str) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {api_key}"}
    return httpx.AsyncClient(base_url=system.gateway_url, headers=headers, timeout=60)


async def runs_through_an_outage(
    system: System,
    database_url: str,
    table: ChaosTable,
    *,
    scenario: str,
    rng: random.Random,
    outage: Outage,
    sync_records: int = SYNC_RECORDS,
) -> ProgressProbe:
    """Start a push and a sync, let `outage` happen at a seeded point of the push, then check both runs
    and a push started once the outage is over (each in an org of its own: a push takes all the org's
    topics, so the sync's must not join it). More `sync_records` keep the sync in flight longer.
    Returns the probe that measured how long each run stood still."""
    platform = rng.choice(PLATFORMS)
    push_key, sync_key, after_key = await _org_keys(database_url, 3)
    async with (
        _client(system, push_key) as push_api,
        _client(system, sync_key) as sync_api,
        _client(system, after_key) as after_api,
        httpx.AsyncClient(base_url=system.mock_url, timeout=120) as mock,
        probing(database_url) as probe,
    ):
        await mock.post("/admin/reset")
        push_connection, push_run_id = await push_run(
            push_api, mock, system.mock_url, system.mock_sftp_port, platform=platform, topics=PUSH_TOPICS
        )
        sync_connection, sync_run_id = await sync_run(
            sync_api,
            mock,
            system.mock_url,
            records=sync_records,
            page_size=SYNC_PAGE_SIZE,
            cursor=rng.random() < 0.5,
            seed=rng.randrange(1_000_000),
        )
        probe.watch(push_run_id, "push")
        probe.watch(sync_run_id, "sync")
        point = rng.randrange(PUSH_TOPICS // 10, PUSH_TOPICS // 2)
        at_outage = await wait_for(push_api, push_connection, push_run_id, reached("processed", point))
        print(f"{scenario}: outage at {at_outage['processed']}/{PUSH_TOPICS} items ({at_outage['status']})")
        await outage(probe)
        pushed, stats = await finish_push(push_api, mock, push_connection, push_run_id, platform=platform)
        synced = await wait_final(sync_api, sync_connection, sync_run_id, kind="sync")
        await mock.delete("/admin/faults/dmp")

        # The system has recovered only if a run started now goes through too.
        await mock.post("/admin/reset")
        after_connection, after_run_id = await push_run(
            after_api,
            mock,
            system.mock_url,
            system.mock_sftp_port,
            platform="custom_api",
            topics=AFTER_TOPICS,
        )
        after, after_stats = await finish_push(
            after_api, mock, after_connection, after_run_id, platform="custom_api"
        )

    pool = await create_pool(database_url, max_size=2)
    try:
        tallies: list[Tally] = [
            await tally_push(f"{scenario} (push)", pool, pushed, stats, topics=PUSH_TOPICS),
            await tally_sync(
                f"{scenario} (sync)", pool, synced, records=sync_records, pages=sync_records // SYNC_PAGE_SIZE
            ),
            await tally_push(
                f"{scenario} (push started after)", pool, after, after_stats, topics=AFTER_TOPICS
            ),
        ]
    finally:
        await pool.close()
    tallies[0].stall_s = probe.stall_s(push_run_id)
    tallies[1].stall_s = probe.stall_s(sync_run_id)
    for tally in tallies:
        table.add(tally)
    problems = [f"{tally.scenario}: {'; '.join(tally.problems)}" for tally in tallies if not tally.clean]
    assert problems == []
    return probe
