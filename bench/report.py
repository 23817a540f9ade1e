"""bench/results.json and the table printed at the end of a run."""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def machine() -> dict[str, Any]:
    """What the figures were measured on (they drift with the machine and its load)."""
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        model = next(
            (
                line.split(":", 1)[1].strip()
                for line in cpuinfo.read_text().splitlines()
                if line.startswith("model name")
            ),
            "",
        )
    memory_kb = 0
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        memory_kb = int(meminfo.read_text().split()[1])
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": round(memory_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "load_average_at_start": [round(value, 2) for value in os.getloadavg()],
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def write_results(path: Path, results: dict[str, Any]) -> None:
    """Write the results document."""
    path.write_text(json.dumps(results, indent=2) + "\n")


def _figure(value: object, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.1f}{unit}" if value >= 10 else f"{value:.2f}{unit}"
    return f"{value}{unit}"


def _scale_push_and_memory_rows(scale: dict[str, Any] | None) -> list[tuple[str, str, str, str, str]]:
    """The scale pass's pushes, and each Activator service's peak at the full size against a tenth."""
    if not scale:
        return []
    pushed = scale["push_items_per_s"]
    rows = [
        (
            f"Scale push of {scale['topics']:,} topics, items/s (mock 0 ms)",
            f"real {_figure(pushed['real'])}",
            f"dry run {_figure(pushed['dry_run'])}",
            "",
            "",
        )
    ]
    for service, growth in sorted(scale["rss_growth_ratio_by_service"].items()):
        if service == "mock-platforms":
            continue
        rows.append(
            (
                f"Scale peak RSS {service}, {scale['topics']:,} topics",
                _figure(scale["peak_rss_mb"][service], " MB"),
                f"{scale['tenth_topics']:,}: {_figure(scale['tenth_peak_rss_mb'][service], ' MB')}",
                f"{_figure(growth)}x",
                "< 200 MB, ≤ 1.1x",
            )
        )
    return rows


def _scale_rows(results: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    rows: list[tuple[str, str, str, str, str]] = []
    imported, memory = results.get("import"), results.get("memory")
    if imported:
        rows.append(
            (
                f"Import via /api/topics/bulk, topics/s ({imported['topics']:,})",
                _figure(imported["topics_per_s"]),
                f"bare upsert {_figure(imported['bare_upsert_topics_per_s'])}",
                f"{_figure(imported['ratio_vs_bare_upsert'])}x",
                "≥ 30,000/s",
            )
        )
    rows += _scale_push_and_memory_rows(results.get("scale"))
    if memory:
        rows.append(
            (
                f"Push-worker RSS, dry run of {memory['topics']:,} topics",
                f"peak {_figure(memory['push_worker_peak_mb'], ' MB')}",
                f"idle {_figure(memory['push_worker_idle_mb'], ' MB')}",
                f"after {_figure(memory['push_worker_after_mb'], ' MB')}",
                "< 200 MB",
            )
        )
    return rows


def _latency_rows(results: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    # Issue 17: what a user waits for, a small run's result and the guide's loop per batch.
    rows: list[tuple[str, str, str, str, str]] = []
    latency = results.get("latency_ms")
    if latency:
        rows.append(
            (
                "Latency p50 / p95 / p99",
                f"{_figure(latency['p50'])} / {_figure(latency['p95'])} / {_figure(latency['p99'])} ms",
                "",
                "",
                "p50 ≤ 50, p99 ≤ 100 ms",
            )
        )
    step_loop = results.get("step_loop")
    if step_loop:
        rows.append(
            (
                "Step loop, overhead per batch",
                _figure(step_loop["overhead_ms"], " ms"),
                f"platform {_figure(step_loop['platform_batch_ms'], ' ms')}",
                f"auto {_figure(step_loop['ratio_auto_vs_step'])}x",
                "≤ 100 ms",
            )
        )
    return rows


def _p3r_rows(results: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    p3r = results.get("p3r_sync")
    if not p3r:
        return []
    rows: list[tuple[str, str, str, str, str]] = []
    for key, ratio_key, label, target in (
        ("records_per_s", "ratio_vs_sequential", "offset, parallel", "≥ 6x"),
        ("cursor_records_per_s", "cursor_ratio_vs_sequential", "cursor, read-ahead", ""),
    ):
        rows.append(
            (
                f"P3r sync, {p3r['latency_ms']} ms source, {label}, records/s",
                _figure(p3r[key]),
                f"sequential pager {_figure(p3r['sequential_records_per_s'])}",
                f"{_figure(p3r[ratio_key])}x",
                target,
            )
        )
    return rows


def _p4_capped_rows(results: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    capped = results.get("p4_capped")
    if not capped:
        return []
    if "unavailable" in capped:
        return [("P4 capped scale-out", "not available", capped["unavailable"], "", "")]
    cap = f"{capped['cap_cores_per_replica']:g} CPU each"
    return [
        (
            f"P4 capped ({cap}), segments/s",
            f"2 replicas {_figure(capped['two_replicas'])}",
            f"1 replica {_figure(capped['one_replica'])}",
            f"{_figure(capped['ratio_2'])}x",
            "≥ 1.8x",
        ),
        (
            f"P4 capped ({cap}), segments/s",
            f"4 replicas {_figure(capped['four_replicas'])}",
            f"1 replica {_figure(capped['one_replica'])}",
            f"{_figure(capped['ratio_4'])}x",
            "≥ 3.2x",
        ),
        (
            "P4 capped, one run, segments/s",
            f"2 replicas {_figure(capped['single_run_two_replicas'])}",
            f"1 replica {_figure(capped['single_run_one_replica'])}",
            f"{_figure(capped['single_run_ratio_2'])}x",
            "≥ 1.8x",
        ),
    ]


def _budget_and_failover_rows(results: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    rows: list[tuple[str, str, str, str, str]] = []
    budget = results.get("rate_budget")
    if budget:
        rps = f"budget {_figure(budget['rate_limit_rps'])}/s"
        rows.append(
            (
                "Rate budget, 2 replicas, achieved/s",
                _figure(budget["achieved_rps"]),
                rps,
                f"{_figure(budget['achieved_ratio'])}x",
                "≥ 0.9x",
            ),
        )
        rows.append(
            (
                "Rate budget, fullest 1 s window",
                str(budget["max_window_requests"]),
                rps,
                f"{_figure(budget['max_window_ratio'])}x",
                "≤ 1x",
            ),
        )
        if "lanes_achieved_rps" in budget:
            rows.append(
                (
                    f"Rate budget, one run in {budget['lanes']} lanes, achieved/s",
                    _figure(budget["lanes_achieved_rps"]),
                    rps,
                    f"{_figure(budget['lanes_achieved_ratio'])}x",
                    "≥ 0.9x",
                ),
            )
            rows.append(
                (
                    "Rate budget, one run in lanes, fullest 1 s",
                    str(budget["lanes_max_window_requests"]),
                    rps,
                    f"{_figure(budget['lanes_max_window_ratio'])}x",
                    "≤ 1x",
                ),
            )
    failover = results.get("failover")
    if failover:
        rows.append(
            (
                "Failover after kill -9 of a push-worker, s",
                f"median {_figure(failover['stall_s_median'])}, max {_figure(failover['stall_s_max'])}",
                f"restart {_figure(failover['worker_restart_s_median'])}",
                "",
                "≤ 10 s",
            )
        )
    return rows


def _tradedesk_rows(results: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    calls = results.get("tradedesk_calls")
    if not calls:
        return []
    return [
        (
            "TTD HTTP calls per created segment",
            _figure(calls["per_created_segment"]),
            f"{calls['calls']} calls, {calls['elements_created']} elements ({calls['containers']} containers)",
            f"{_figure(calls['writes_per_topic'])} writes a topic",
            "≤ 1.1",
        )
    ]


def table(results: dict[str, Any]) -> str:
    """The results as a Markdown table: figure, baseline, ratio, target."""
    rows: list[tuple[str, str, str, str, str]] = []
    p1 = results.get("p1_push")
    if p1:
        rows.append(
            (
                "P1 push, segments/s",
                _figure(p1["segments_per_s"]),
                f"ceiling {_figure(p1['ceiling_segments_per_s'])}",
                f"{_figure(p1['ratio_vs_ceiling'])}x",
                "≥ 0.8x",
            )
        )
        rows.append(
            (
                "P1 push vs step loop",
                _figure(p1["segments_per_s"]),
                f"step loop {_figure(p1['step_loop_segments_per_s'])}",
                f"{_figure(p1['ratio_vs_step_loop'])}x",
                "≥ 20x",
            )
        )
    p2 = results.get("p2_recorder")
    if p2:
        rows.append(
            (
                "P2 recorder, events/s",
                _figure(p2["events_per_s"]),
                f"row-at-a-time {_figure(p2['baseline_events_per_s'])}",
                f"{_figure(p2['ratio'])}x",
                "≥ 20,000/s, ≥ 10x",
            )
        )
    p3 = results.get("p3_sync")
    if p3:
        if p3.get("available", True):
            rows.append(
                (
                    "P3 sync, records/s",
                    _figure(p3["records_per_s"]),
                    f"ceiling {_figure(p3['ceiling_records_per_s'])}",
                    f"{_figure(p3['ratio'])}x",
                    "≥ 0.7x",
                )
            )
            if "fetch_and_upsert_records_per_s" in p3:
                rows.append(
                    (
                        "P3 sync vs storing alone",
                        _figure(p3["records_per_s"]),
                        f"fetch+upsert loop {_figure(p3['fetch_and_upsert_records_per_s'])}",
                        f"{_figure(p3['ratio_vs_fetch_and_upsert'])}x",
                        "≥ 25,000/s, ≥ 1.5x",
                    )
                )
        else:
            rows.append(("P3 sync, records/s", "not available", p3.get("reason", ""), "", "≥ 0.7x"))
    rows += _p3r_rows(results)
    p4 = results.get("p4_scale")
    if p4:
        rows.append(
            (
                "P4 scale-out, segments/s",
                f"2 workers {_figure(p4['two_workers'])}",
                f"1 worker {_figure(p4['one_worker'])}",
                f"{_figure(p4['ratio'])}x",
                "≥ 1.7x",
            )
        )
    rows += _p4_capped_rows(results)
    rows += _budget_and_failover_rows(results)
    rows += _tradedesk_rows(results)
    for service, peak in (results.get("p5_memory_mb") or {}).items():
        rows.append(
            (
                f"P5 peak RSS {service}",
                _figure(peak, " MB"),
                "",
                "",
                "< 150 MB" if service != "mock-platforms" else "",
            )
        )
    rows += _latency_rows(results)
    fairness = results.get("fairness")
    if fairness:
        rows.append(
            (
                "Small run beside a long one (same partition), s",
                _figure(fairness["small_run_beside_long_s"]),
                f"idle {_figure(fairness['small_run_idle_s'])}",
                f"{_figure(fairness['same_partition_ratio'])}x",
                "≤ 2x",
            )
        )
    rows += _scale_rows(results)
    history = results.get("history")
    if history:
        for key, label in (("runs_page_p95_ms", "failed runs"), ("items_page_p95_ms", "failed items")):
            rows.append(
                (f"History p95, first page of {label}", _figure(history[key], " ms"), "", "", "≤ 50 ms")
            )
    header = ("Scenario", "Activator", "Baseline", "Ratio", "Target")
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(5)]
    lines = [
        "| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) + " |"
        for row in [header, tuple("-" * width for width in widths), *rows]
    ]
    return "\n".join(lines)


def say(message: str) -> None:
    """Progress on stderr, so that stdout is the table."""
    print(message, file=sys.stderr, flush=True)
