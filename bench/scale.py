"""Scale: a taxonomy imported through POST /api/topics/bulk against a bare batched upsert, then a dry-run
push and a real push (mock platform, 0 ms) of all of it, with each service's resident memory at its peak.

The whole pass runs twice in the same world: at a tenth of the size (at least one request of 10,000),
then at the full size, so the growth of each service's peak with the taxonomy (`scale.rss_growth_ratio`)
is measured under the same load. The import and its baseline alternate request by request (10,000 topics each), so drift in the
machine's load hits both alike. The org has two active output templates (one built-in, one kept in
platform_outputs), so the import renders and stores names as a real one does.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from dataclasses import dataclass, field
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
    set_platform_latency,
    timed_push,
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


@dataclass
class _Pass:
    """One pass at a size: the import and both pushes' times, and each service's peak in each phase."""

    topics: int
    api_s: float = 0.0
    bare_s: float = 0.0
    dry_run_s: float = 0.0
    push_s: float = 0.0
    idle_mb: dict[str, float] = field(default_factory=dict)
    after_dry_run_mb: dict[str, float] = field(default_factory=dict)
    peaks_mb: dict[str, dict[str, float]] = field(default_factory=dict)

    def peak_mb(self) -> dict[str, float]:
        """Each service's highest peak over the pass's phases."""
        services = {service for peaks in self.peaks_mb.values() for service in peaks}
        return {s: max(peaks.get(s, 0.0) for peaks in self.peaks_mb.values()) for s in sorted(services)}


async def _pass(world: World, count: int) -> _Pass:
    """Import `count` topics into a new org (and the baseline's), dry-run push them, then push them."""
    measured = _Pass(count)
    org = await new_org(world.pool, world.gateway_url)
    baseline = await new_org(world.pool, world.gateway_url)
    await baseline.api.aclose()
    pids = world.pids()
    try:
        for template in TEMPLATES:
            response = await org.api.post("/api/output-templates", json=template)
            if response.status_code != 201:
                raise ScenarioFailed(f"template: {response.status_code} {response.text[:200]}")
        measured.idle_mb = rss_mb(pids)
        reset_peaks(pids)
        measured.api_s, measured.bare_s = await _imported(world, org, baseline.org_id, count)
        measured.peaks_mb["import"] = peak_rss_mb(pids)
        reset_peaks(pids)
        measured.dry_run_s = await _dry_run(world, org, count)
        measured.peaks_mb["dry_run"] = peak_rss_mb(pids)
        measured.after_dry_run_mb = rss_mb(pids)
        reset_peaks(pids)
        await set_platform_latency(world.mock, "custom_api", 0)
        connection_id = await new_custom_api_connection(
            org.api, world.mock_url, max_concurrency=8, name="scale-push"
        )
        measured.push_s = await timed_push(world.pool, org.api, connection_id, count)
        measured.peaks_mb["push"] = peak_rss_mb(pids)
    finally:
        await org.api.aclose()
    return measured


ACTIVATOR_SERVICES = ("gateway", "push-worker", "status-recorder", "sync-worker")
"""The services whose memory the growth ratio covers (the mock platform keeps every segment it is sent)."""


async def run_scale(world: World, config: BenchConfig) -> dict[str, Any]:
    """`scale.*` figures, and the `import.*` and `memory.*` ones of before (results.json), measured on
    `config.scale_topics` topics after a pass at a tenth of that."""
    count = config.scale_topics
    # At least one full request: below it the gateway's peak would follow the request, not the taxonomy.
    tenth = await _pass(world, max(REQUEST_TOPICS, count // 10))
    full = await _pass(world, count)
    topics_per_s, bare_per_s = rate(count, full.api_s), rate(count, full.bare_s)
    peak, tenth_peak = full.peak_mb(), tenth.peak_mb()
    growth = {s: ratio(peak[s], tenth_peak[s]) for s in peak if tenth_peak.get(s)}
    return {
        "scale": {
            "topics": count,
            "tenth_topics": tenth.topics,
            "request_topics": REQUEST_TOPICS,
            "import_topics_per_s": topics_per_s,
            "import_bare_upsert_topics_per_s": bare_per_s,
            "import_ratio_vs_bare_upsert": ratio(topics_per_s, bare_per_s),
            "push_items_per_s": {"dry_run": rate(count, full.dry_run_s), "real": rate(count, full.push_s)},
            "peak_rss_mb": peak,
            "peak_rss_mb_by_phase": full.peaks_mb,
            "tenth_peak_rss_mb": tenth_peak,
            "rss_growth_ratio": max(growth.get(s, 0.0) for s in ACTIVATOR_SERVICES),
            "rss_growth_ratio_by_service": growth,
            "load_average_after": [round(value, 2) for value in os.getloadavg()],
        },
        "import": {
            "topics": count,
            "request_topics": REQUEST_TOPICS,
            "topics_per_s": topics_per_s,
            "bare_upsert_topics_per_s": bare_per_s,
            "ratio_vs_bare_upsert": ratio(topics_per_s, bare_per_s),
            "gateway_peak_mb": full.peaks_mb["import"].get("gateway", 0.0),
        },
        "memory": {
            "topics": count,
            "push_worker_idle_mb": full.idle_mb.get("push-worker", 0.0),
            "push_worker_peak_mb": full.peaks_mb["dry_run"].get("push-worker", 0.0),
            "push_worker_after_mb": full.after_dry_run_mb.get("push-worker", 0.0),
            "dry_run_items_per_s": rate(count, full.dry_run_s),
            "idle_mb": full.idle_mb,
            "import_peak_mb": full.peaks_mb["import"],
            "dry_run_peak_mb": full.peaks_mb["dry_run"],
        },
    }
