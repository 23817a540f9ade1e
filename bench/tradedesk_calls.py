"""The Trade Desk's HTTP calls per created segment (issue 15): one push of a 3-level taxonomy (roots > groups >
leaves) to a fresh TTD connection, the mock counting every request it answers.

A leaf is one element write; its ancestors become non-buyable containers, each made once, before the first
leaf under it; the CPMs of a push batch (25) go in one data-rate batch, whose processing the run's end polls.
`per_created_segment` is every request the mock saw from the run's request to the run's end (auth, element
writes, rate batches, status polls, and any look of the review poller meanwhile) ÷ the elements the run made,
containers included; `per_topic` divides by the leaves alone; `writes_per_topic` counts only the writes (what
the e2e holds to ≤ 1.1). The mock answers at once and processes a rate batch after its default 1 s.
"""

from __future__ import annotations

import uuid
from typing import Any

from bench.config import BenchConfig
from bench.harness import (
    Org,
    ScenarioFailed,
    create_connection,
    new_org,
    ratio,
    require_succeeded,
    set_platform_latency,
    start_run,
)
from bench.world import World


def tradedesk_connection(mock_url: str, name: str) -> dict[str, Any]:
    """An outbound connection to the mock Trade Desk (a pasted token; the mock accepts any without tenants)."""
    return {
        "name": name,
        "platform": "tradedesk",
        "direction": "outbound",
        "authType": "bearer",
        "authCredentials": {"api_key": "bench-ttd-token"},
        "config": {
            "api_base_url": f"{mock_url}/ttd",
            "provider_id": "activator-bench",
            "brand_id": "activator-bench-brand",
            "partner_id": "bench-partner",
            "default_cpm": 1.5,
            "currency": "USD",
        },
    }


async def _add_tree(org: Org, prefix: str, roots: int, groups: int, leaves: int) -> int:
    """Topics under `roots` x `groups` paths, `leaves` each; returns how many."""
    topics = [
        {
            "name": f"Bench {prefix} {root}.{group}.{leaf}",
            "externalId": f"{prefix}-{root:03d}-{group:03d}-{leaf:05d}",
            "path": [f"Bench {prefix} {root}", f"Group {root}.{group}"],
        }
        for root in range(roots)
        for group in range(groups)
        for leaf in range(leaves)
    ]
    for start in range(0, len(topics), 5_000):
        response = await org.api.post("/api/topics/bulk", json={"topics": topics[start : start + 5_000]})
        if response.status_code != 200:
            raise ScenarioFailed(f"bulk topics: {response.status_code} {response.text[:200]}")
    return len(topics)


async def _stats(world: World) -> dict[str, Any]:
    answer = await world.mock.get("/admin/stats/tradedesk")
    answer.raise_for_status()
    stats: dict[str, Any] = answer.json()
    return stats


async def run_tradedesk_calls(world: World, config: BenchConfig) -> dict[str, Any]:
    """HTTP calls per created element and per topic of one TTD push of a 3-level taxonomy."""
    roots, groups, leaves = config.tradedesk_tree
    prefix = f"ttd-{uuid.uuid4().hex[:6]}"
    org = await new_org(world.pool, world.gateway_url)
    try:
        connection_id = await create_connection(
            org.api, tradedesk_connection(world.mock_url, f"calls-{prefix}")
        )
        topics = await _add_tree(org, prefix, roots, groups, leaves)
        await set_platform_latency(world.mock, "tradedesk", 0)
        before = await _stats(world)
        run_id = await start_run(org.api, connection_id, "push")
        await require_succeeded(world.pool, run_id, topics, timeout=900)
        after = await _stats(world)
    finally:
        await org.api.aclose()
    containers = roots + roots * groups
    made = len(after["creates_by_key"]) - len(before["creates_by_key"])
    if made != topics + containers:
        raise ScenarioFailed(f"the mock saw {made} elements made, expected {topics} leaves + {containers}")
    calls = after["requests"] - before["requests"]
    writes = after["writes"] - before["writes"]
    return {
        "topics": topics,
        "containers": containers,
        "elements_created": made,
        "calls": calls,
        "writes": writes,
        "reads": calls - writes,
        "per_created_segment": ratio(calls, made),
        "per_topic": ratio(calls, topics),
        "writes_per_topic": ratio(writes, topics),
        "duplicates": after["duplicates"] - before["duplicates"],
    }
