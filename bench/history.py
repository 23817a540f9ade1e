"""History: the first page of a connection's failed runs and of a run's failed items, over a long history.

The history is generated in Postgres, set-based: `history_runs` runs of one connection (one in ten
failed, one in ten partial, the rest succeeded, 15 seconds apart: 100,000 runs span 17 days, inside the
gateway's 30-day run retention, which deleted the oldest of them mid-generation when they were a minute apart) and `history_items` items, a fifth of
them in one large run (one in ten failed) and the rest spread over the other runs. Then each page
is requested `history_requests` times in series through the gateway; the figures are p95 in ms.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from bench.config import BenchConfig
from bench.harness import new_custom_api_connection, new_org
from bench.latency import percentiles
from bench.report import say
from bench.world import World

_RUNS = """
INSERT INTO runs (org_id, connection_id, kind, status, total, processed, succeeded, failed,
                  created_at, started_at, finished_at)
SELECT $1, $2, 'push',
       CASE WHEN g % 10 = 0 THEN 'failed' WHEN g % 10 = 1 THEN 'partial' ELSE 'succeeded' END,
       40, 40, 36, 4, at, at, at + interval '30 seconds'
FROM generate_series(1, $3) AS g, LATERAL (SELECT now() - make_interval(secs => 15 * ($3 - g)) AS at) AS t
"""

_ITEMS = """
INSERT INTO run_items (run_id, item_id, outcome, platform_segment_id, error_code, error_message,
                       attempt, event_id, at)
SELECT r.id, md5(r.id::text || i)::uuid::text,
       CASE WHEN i % 10 = 0 THEN 'failed' ELSE 'created' END,
       CASE WHEN i % 10 = 0 THEN NULL ELSE 'seg-' || i END,
       CASE WHEN i % 10 = 0 THEN 'permanent:400' END,
       CASE WHEN i % 10 = 0 THEN 'the platform refused the segment' END,
       1, md5(i || r.id::text)::uuid, r.created_at
FROM (SELECT id, created_at FROM runs WHERE connection_id = $1 AND id <> $2) AS r,
     generate_series(1, $3) AS i
"""

_BIG_RUN_ITEMS = """
INSERT INTO run_items (run_id, item_id, outcome, platform_segment_id, error_code, error_message,
                       attempt, event_id, at)
SELECT $1::uuid, md5($1::uuid::text || i)::uuid::text,
       CASE WHEN i % 10 = 0 THEN 'failed' ELSE 'created' END,
       CASE WHEN i % 10 = 0 THEN NULL ELSE 'seg-' || i END,
       CASE WHEN i % 10 = 0 THEN 'permanent:400' END,
       CASE WHEN i % 10 = 0 THEN 'the platform refused the segment' END,
       1, md5(i || $1::uuid::text)::uuid, now()
FROM generate_series(1, $2) AS i
"""


_WARMUP = 10  # connections of the gateway's pool opened, statements prepared


async def _p95_ms(org_api: httpx.AsyncClient, path: str, params: dict[str, str], requests: int) -> float:
    timings: list[float] = []
    for _ in range(_WARMUP):
        (await org_api.get(path, params=params)).raise_for_status()
    for _ in range(requests):
        started = time.perf_counter()
        answer = await org_api.get(path, params=params)
        timings.append((time.perf_counter() - started) * 1000)
        answer.raise_for_status()
    return percentiles(timings)["p95"]


async def run_history(world: World, config: BenchConfig) -> dict[str, Any]:
    """p95 of the two first pages, with how long generating the history took."""
    org = await new_org(world.pool, world.gateway_url)
    try:
        connection_id = await new_custom_api_connection(
            org.api, world.mock_url, max_concurrency=1, name="history"
        )
        started = time.monotonic()
        await world.pool.execute(_RUNS, org.org_id, connection_id, config.history_runs)
        big_run = await world.pool.fetchval(
            "SELECT id FROM runs WHERE connection_id = $1 AND status = 'failed' ORDER BY created_at DESC LIMIT 1",
            connection_id,
        )
        big_items = config.history_items // 5
        per_run = (config.history_items - big_items) // max(1, config.history_runs - 1)
        await world.pool.execute(_BIG_RUN_ITEMS, big_run, big_items, timeout=600)
        await world.pool.execute(_ITEMS, connection_id, big_run, per_run, timeout=600)
        # As a live table would be: vacuumed (visibility map set) and analysed, no autovacuum mid-measurement.
        await world.pool.execute("VACUUM (ANALYZE) runs, run_items", timeout=600)
        generated_s = round(time.monotonic() - started, 1)
        say(f"bench: history generated in {generated_s}s")
        runs_p95 = await _p95_ms(
            org.api, "/api/runs", {"connectionId": connection_id, "status": "failed"}, config.history_requests
        )
        items_p95 = await _p95_ms(
            org.api, f"/api/runs/{big_run}/items", {"outcome": "failed"}, config.history_requests
        )
        await org.api.delete(f"/api/connections/{connection_id}")  # the next scenarios' tables stay small
    finally:
        await org.api.aclose()
    return {
        "runs_page_p95_ms": runs_p95,
        "items_page_p95_ms": items_p95,
        "runs": config.history_runs,
        "items": config.history_items,
        "largest_run_items": big_items,
        "generated_s": generated_s,
        "requests_per_page": config.history_requests,
        "page_size": 100,
    }
