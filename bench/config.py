"""Sizes and repetitions of each scenario, full and quick."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BenchConfig:
    quick: bool
    repetitions: int
    # P1: topics per push run, the step loop's share of them, platform latency and concurrency.
    p1_topics: int
    p1_step_topics: int
    platform_latency_ms: int
    push_concurrency: int
    # P2: status events pre-loaded on the topic, and how many the row-at-a-time baseline inserts.
    p2_events: int
    p2_runs: int
    p2_baseline_events: int
    # P3: DMP records and page size.
    p3_records: int
    p3_page_size: int
    # P4: connections x topics, each connection's concurrency cap.
    p4_connections: int
    p4_topics_per_connection: int
    p4_max_concurrency: int
    # P4 capped: connections x topics pushed at once by push-workers held to a share of a CPU each.
    p4c_connections: int
    p4c_topics_per_connection: int
    p4c_cap_cores: float
    p4c_runs_per_replica: int
    # Rate budget: one connection's requests per second, and the topics of each of its two runs.
    rate_budget_rps: float
    rate_budget_topics_per_run: int
    rate_budget_lane_topics: int  # one run big enough to be split into lanes across the two replicas
    # Latency: 25-topic runs arriving at a steady rate for a while.
    latency_run_topics: int
    latency_runs_per_s: float
    latency_duration_s: float
    # History: runs and items generated in Postgres, requests per measured page.
    history_runs: int
    history_items: int
    history_requests: int
    # Scale: topics imported through the API (and by the bare upsert), then pushed in one dry run.
    scale_topics: int
    # Fairness: topics of the long run a small run is measured beside.
    fairness_long_topics: int
    # Failover: push-workers killed (one push each) and the topics of each push.
    failover_kills: int
    failover_topics: int
    # The Trade Desk's calls: one push of roots x groups x leaves topics (containers for the first two levels).
    tradedesk_tree: tuple[int, int, int]


FULL = BenchConfig(
    quick=False,
    repetitions=3,
    p1_topics=10_000,
    p1_step_topics=1_000,
    platform_latency_ms=20,
    push_concurrency=8,
    p2_events=200_000,
    p2_runs=20,
    p2_baseline_events=10_000,
    p3_records=100_000,
    p3_page_size=100,
    p4_connections=4,
    p4_topics_per_connection=2_500,
    p4_max_concurrency=4,
    p4c_connections=8,
    p4c_topics_per_connection=300,
    p4c_cap_cores=0.15,
    p4c_runs_per_replica=2,
    latency_run_topics=25,
    latency_runs_per_s=2.0,
    latency_duration_s=20.0,
    history_runs=100_000,
    history_items=5_000_000,
    history_requests=200,
    scale_topics=200_000,
    fairness_long_topics=10_000,
    rate_budget_rps=40.0,
    rate_budget_topics_per_run=400,
    rate_budget_lane_topics=2000,
    failover_kills=4,
    failover_topics=3_000,
    tradedesk_tree=(5, 8, 50),
)

QUICK = BenchConfig(
    quick=True,
    repetitions=2,
    p1_topics=2_000,
    p1_step_topics=250,
    platform_latency_ms=20,
    push_concurrency=8,
    p2_events=50_000,
    p2_runs=10,
    p2_baseline_events=3_000,
    p3_records=20_000,
    p3_page_size=100,
    p4_connections=4,
    p4_topics_per_connection=500,
    p4_max_concurrency=4,
    p4c_connections=8,
    p4c_topics_per_connection=200,
    p4c_cap_cores=0.15,
    p4c_runs_per_replica=2,
    latency_run_topics=25,
    latency_runs_per_s=2.0,
    latency_duration_s=8.0,
    history_runs=20_000,
    history_items=1_000_000,
    history_requests=100,
    scale_topics=30_000,
    fairness_long_topics=2_000,
    rate_budget_rps=40.0,
    rate_budget_topics_per_run=200,
    rate_budget_lane_topics=1000,
    failover_kills=2,
    failover_topics=2_000,
    tradedesk_tree=(3, 4, 25),
)
