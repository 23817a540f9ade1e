"""Runs driven through faults: a push or a sync of fresh data, crashes at seeded points, the final figures."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from typing import Any

import httpx

from shared.connectors.platforms.tradedesk_tree import CONTAINER_ID_PREFIX
from shared.runs.status import TERMINAL_STATUSES
from tests.e2e.helpers import push_new_topics
from tests.e2e.sync_helpers import CURSOR_PAGING, create_dmp_connection, feed_records, set_records, start_sync
from tests.support.processes import WORKER_READY, ServiceProcess

PLATFORMS = ("custom_api", "tradedesk", "liveramp", "indexexchange")
CONTAINER_PREFIX = (
    "act-c-"  # ProviderElementId of a Trade Desk container (shared/connectors/platforms/tradedesk_tree.py)
)
# Each platform slowed so a run lasts long enough to be hit mid-way (Index Exchange: per file of 25).
SLOW_PLATFORM: dict[str, int] = {"custom_api": 25, "tradedesk": 25, "liveramp": 25, "indexexchange": 400}
SYNC_LATENCY_MS = 150
# Offset pages in flight at once (cursor paging: pages read ahead of the commits) during the crashes.
SYNC_PARALLEL_PAGES = 8

Status = dict[str, Any]


async def read_status(api: httpx.AsyncClient, connection_id: str, run_id: str, kind: str) -> Status | None:
    """The run's status, or None while the gateway cannot answer (its database or broker is away)."""
    try:
        response = await api.get(f"/api/connections/{connection_id}/{kind}/run/{run_id}/status")
    except httpx.TransportError:
        return None
    if response.status_code != 200:
        return None
    status: Status = response.json()
    return status


async def wait_for(
    api: httpx.AsyncClient,
    connection_id: str,
    run_id: str,
    done: Callable[[Status], bool],
    *,
    kind: str = "push",
    timeout: float = 420,
) -> Status:
    """Poll until `done(status)` or the run is final; tolerant of a gateway that cannot answer for a while."""
    deadline = time.monotonic() + timeout
    last: Status | None = None
    while time.monotonic() < deadline:
        status = await read_status(api, connection_id, run_id, kind)
        if status is not None:
            last = status
            if done(status) or status["status"] in TERMINAL_STATUSES:
                return status
        await asyncio.sleep(0.2)
    msg = f"{kind} run {run_id} did not get there in {timeout}s; last status {last}"
    raise TimeoutError(msg)


def reached(counter: str, value: int) -> Callable[[Status], bool]:
    """A `wait_for` condition: the run's `counter` is at least `value`."""
    return lambda status: bool(status[counter] >= value)


async def wait_final(
    api: httpx.AsyncClient, connection_id: str, run_id: str, *, kind: str = "push", timeout: float = 420
) -> Status:
    """Poll until the run is final."""
    return await wait_for(api, connection_id, run_id, lambda _status: False, kind=kind, timeout=timeout)


async def crash(service: ServiceProcess, rng: random.Random) -> None:
    """kill -9, a seeded pause (0-2.5 s) with the service down, then a restart that is ready to consume."""
    service.kill()
    await asyncio.sleep(rng.uniform(0, 2.5))
    restart_from = service.log_size()
    service.start()
    await service.wait_for_log(WORKER_READY, timeout=120, after=restart_from)


def crash_points(rng: random.Random, span: int) -> list[int]:
    """One or two seeded points in [0, 90 %) of `span` (items or pages), in order."""
    return sorted(rng.sample(range(int(span * 0.9)), k=rng.choice((1, 2))))


async def push_run(
    api: httpx.AsyncClient,
    mock: httpx.AsyncClient,
    system_mock_url: str,
    sftp_port: int,
    *,
    platform: str,
    topics: int,
) -> tuple[str, str]:
    """A fresh connection to a slowed platform and a started push run of `topics` new topics."""
    await mock.put(
        f"/admin/faults/{platform}", json={"latency_ms": SLOW_PLATFORM[platform], "count": 100_000_000}
    )
    return await push_new_topics(api, system_mock_url, sftp_port, topics, platform=platform)


async def finish_push(
    api: httpx.AsyncClient, mock: httpx.AsyncClient, connection_id: str, run_id: str, *, platform: str
) -> tuple[Status, dict[str, Any]]:
    """The run's final status and the platform's stats, once it ended."""
    final = await wait_final(api, connection_id, run_id)
    await mock.delete(f"/admin/faults/{platform}")
    stats: dict[str, Any] = (await mock.get(f"/admin/stats/{platform}")).json()
    if platform == "tradedesk":
        # The topics' segments only: their ancestors are non-buyable containers, made once per process
        # (a restarted worker asks for each again and is told it exists).
        held = (await mock.get("/admin/segments/tradedesk")).json()["segments"]
        stats["segments"] = sum(1 for element in held if element["Buyable"])
        stats["creates_by_key"] = {
            key: count
            for key, count in stats["creates_by_key"].items()
            if not key.startswith(CONTAINER_ID_PREFIX)
        }
    return final, stats


async def sync_run(
    api: httpx.AsyncClient,
    mock: httpx.AsyncClient,
    system_mock_url: str,
    *,
    records: int,
    page_size: int,
    cursor: bool,
    seed: int,
) -> tuple[str, str]:
    """Fresh records on a slowed DMP, a connection reading them, and a started sync run."""
    await set_records(mock, feed_records(records, seed=seed))
    await mock.put("/admin/faults/dmp", json={"latency_ms": SYNC_LATENCY_MS})
    paging = (
        {**CURSOR_PAGING, "page_size": page_size}
        if cursor
        else {"offset_param": "offset", "limit_param": "limit", "page_size": page_size}
    )
    connection_id = await create_dmp_connection(
        api, system_mock_url, cursor=cursor, pagination_params=paging, parallel_pages=SYNC_PARALLEL_PAGES
    )
    return connection_id, await start_sync(api, connection_id)
