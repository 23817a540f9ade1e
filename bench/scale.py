"""Scale: a taxonomy imported through POST /api/topics/bulk against a bare batched upsert, then a dry-run
push of all of it, with each service's resident memory idle and at its peak.

The import and its baseline alternate request by request (10,000 topics each), so drift in the
machine's load hits both alike. The org has two active output templates (one built-in, one kept in
platform_outputs), so the import renders and stores names as a real one does.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import asyncpg

from bench.config import BenchConfig
from bench.harness import (
    Org,
    ScenarioFailed,
    new_custom_api_connection,
    new_org,
    rate,
    ratio,
)
from bench.procstats import peak_rss_mb, reset_peaks, rss_mb
from bench.world import World
from shared.runs.status import TERMINAL_STATUSES

REQUEST_TOPICS = 10_000
TEMPLATES = (
    {"key": "tradedesk", "pathFields": ["path"]},
    {"key": "acme", "pathFields": ["name"], "nameTemplate": "{{path}} ({{cpm}})"},
)


def _topics(prefix: str, start: int, count: int) -> list[dict[str, Any]]:
    return [
        {
            "name": f"Segment {index}",
            "parentCategory": "Interests",
            "path": ["Interests", prefix, f"Segment {index}"],
            "description": "People who read about this subject several times a month",
            "externalId": f"{prefix}-{index:07d}",
            "cpm": 1.25,
            "attributes": {"source": "bench", "reach": index},
        }
        for index in range(start, start + count)
    ]


async def _bare_upsert(pool: asyncpg.Pool[Any], org_id: uuid.UUID, topics: list[dict[str, Any]]) -> float:
    """The floor: the same rows in one `unnest` upsert, no HTTP, validation or rendering."""
    started = time.perf_counter()
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute(
            """INSERT INTO topics (org_id, name, parent_category, description, external_id, cpm, attributes)
               SELECT $1, r.name, r.parent_category, r.description, r.external_id, r.cpm, r.attributes::jsonb
               FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::numeric[], $7::text[])
                    AS r(name, parent_category, description, external_id, cpm, attributes)
               ON CONFLICT (org_id, external_id) WHERE external_id IS NOT NULL DO UPDATE SET
                    name = EXCLUDED.name, updated_at = now()""",
            org_id,
            [t["name"] for t in topics],
            [t["parentCategory"] for t in topics],
            [t["description"] for t in topics],
            [t["externalId"] for t in topics],
            [t["cpm"] for t in topics],
            [json.dumps(t["attributes"]) for t in topics],
        )
    return time.perf_counter() - started


async def _imported(world: World, org: Org, baseline_org: uuid.UUID, count: int) -> tuple[float, float]:
    """Seconds the API import and the bare upsert took for `count` topics, interleaved by request."""
    prefix = f"s{uuid.uuid4().hex[:6]}"
    api_s = bare_s = 0.0
    for start in range(0, count, REQUEST_TOPICS):
        topics = _topics(prefix, start, min(REQUEST_TOPICS, count - start))
        body = json.dumps({"topics": topics}).encode()
        started = time.perf_counter()
        response = await org.api.post(
            "/api/topics/bulk", content=body, headers={"content-type": "application/json"}
        )
        api_s += time.perf_counter() - started
        if response.status_code != 200 or response.json()["created"] != len(topics):
            raise ScenarioFailed(f"bulk topics: {response.status_code} {response.text[:200]}")
        bare_s += await _bare_upsert(world.pool, baseline_org, topics)
    return api_s, bare_s


async def _dry_run(world: World, org: Org, count: int, timeout: float = 1800) -> float:
    """Seconds a dry-run push of every topic took, from the request to the run's final status."""
    connection_id = await new_custom_api_connection(org.api, world.mock_url, max_concurrency=8, name="scale")
    started = time.perf_counter()
    response = await org.api.post(f"/api/connections/{connection_id}/push/run", json={"dryRun": True})
    if response.status_code != 202:
        raise ScenarioFailed(f"dry run: {response.status_code} {response.text[:200]}")
    run_id = uuid.UUID(response.json()["runId"])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = await world.pool.fetchrow("SELECT status, total, processed FROM runs WHERE id = $1", run_id)
        assert row is not None
        if row["status"] in TERMINAL_STATUSES:
            if row["status"] != "succeeded" or row["total"] != count:
                raise ScenarioFailed(f"dry run ended {row['status']} with total {row['total']}/{count}")
            return time.perf_counter() - started
        await asyncio.sleep(0.2)
    raise ScenarioFailed(f"dry run did not finish in {timeout:.0f}s")


async def run_scale(world: World, config: BenchConfig) -> dict[str, Any]:
    """`import.*` and `memory.*` figures (results.json), measured on `config.scale_topics` topics."""
    count = config.scale_topics
    org = await new_org(world.pool, world.gateway_url)
    baseline = await new_org(world.pool, world.gateway_url)
    await baseline.api.aclose()
    try:
        for template in TEMPLATES:
            response = await org.api.post("/api/output-templates", json=template)
            if response.status_code != 201:
                raise ScenarioFailed(f"template: {response.status_code} {response.text[:200]}")
        idle = rss_mb(world.pids())
        reset_peaks(world.pids())
        api_s, bare_s = await _imported(world, org, baseline.org_id, count)
        import_peaks = peak_rss_mb(world.pids())
        reset_peaks(world.pids())
        push_s = await _dry_run(world, org, count)
        push_peaks = peak_rss_mb(world.pids())
        after = rss_mb(world.pids())
    finally:
        await org.api.aclose()
    topics_per_s, bare_per_s = rate(count, api_s), rate(count, bare_s)
    return {
        "import": {
            "topics": count,
            "request_topics": REQUEST_TOPICS,
            "topics_per_s": topics_per_s,
            "bare_upsert_topics_per_s": bare_per_s,
            "ratio_vs_bare_upsert": ratio(topics_per_s, bare_per_s),
            "gateway_peak_mb": import_peaks.get("gateway", 0.0),
        },
        "memory": {
            "topics": count,
            "push_worker_idle_mb": idle.get("push-worker", 0.0),
            "push_worker_peak_mb": push_peaks.get("push-worker", 0.0),
            "push_worker_after_mb": after.get("push-worker", 0.0),
            "dry_run_items_per_s": rate(count, push_s),
            "idle_mb": idle,
            "import_peak_mb": import_peaks,
            "dry_run_peak_mb": push_peaks,
        },
    }
