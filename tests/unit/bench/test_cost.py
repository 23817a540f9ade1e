"""The cost figure: CPU per item counted only inside the measured stretches, by service."""

from __future__ import annotations

import os

from bench.procstats import CpuMeter, cpu_seconds, summarise


def _burn() -> int:
    return sum(i * i for i in range(300_000))


def test_cpu_per_item_counts_the_measured_stretches_only() -> None:
    pids = {"me": os.getpid()}
    meter = CpuMeter()
    before = cpu_seconds(pids)
    for _ in range(20):
        _burn()
    meter.add(before, pids, items=100)
    _burn()  # outside any stretch: not counted
    per = meter.ms_per_item()
    assert per["me"] > 0
    assert per["total"] == per["me"]
    assert meter.items == 100
    assert CpuMeter().ms_per_item() == {}


def test_results_carry_the_cost_of_a_pushed_segment_and_a_synced_record_with_peak_memory() -> None:
    results = {
        "p1_push": {"cpu_ms_per_segment": {"push-worker": 1.5, "total": 1.5}},
        "p3_sync": {"records_per_s": 1.0},
    }
    summarise(results, {"p1": {"push-worker": 101.0}, "p3": {"push-worker": 99.0, "sync-worker": 90.0}})
    assert results["cost"] == {
        "push_cpu_ms_per_segment": {"push-worker": 1.5, "total": 1.5},
        "peak_rss_mb": {"push-worker": 101.0, "sync-worker": 90.0},
    }
