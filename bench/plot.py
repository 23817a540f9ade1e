"""bench/results.png: each scenario's throughput beside its same-run baseline, and the latency figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib as mpl

mpl.use("Agg")  # no display: the picture goes to a file

import matplotlib.pyplot as plt

# (label, section of results.json, Activator's key, baseline's key, baseline's name)
_PAIRS = (
    ("P1 push, segments/s", "p1_push", "segments_per_s", "ceiling_segments_per_s", "bare client"),
    ("P2 recorder, events/s", "p2_recorder", "events_per_s", "baseline_events_per_s", "row at a time"),
    ("P3 sync, records/s", "p3_sync", "records_per_s", "fetch_and_upsert_records_per_s", "fetch+upsert"),
    ("P3r slow source, records/s", "p3r_sync", "records_per_s", "sequential_records_per_s", "sequential"),
    ("P4 capped, segments/s", "p4_capped", "two_replicas", "one_replica", "1 replica"),
    ("Import, topics/s", "import", "topics_per_s", "bare_upsert_topics_per_s", "bare upsert"),
)


def _pairs(results: dict[str, Any]) -> list[tuple[str, float, float, str]]:
    found = []
    for label, section, ours, theirs, name in _PAIRS:
        figures = results.get(section) or {}
        if isinstance(figures.get(ours), int | float) and isinstance(figures.get(theirs), int | float):
            found.append((label, float(figures[ours]), float(figures[theirs]), name))
    return found


def write_plot(path: Path, results: dict[str, Any]) -> bool:
    """Draw what `results` holds; False (nothing written) when it holds no figure to draw."""
    pairs = _pairs(results)
    latency = results.get("latency_ms") or {}
    if not pairs and "p50" not in latency:
        return False
    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 5), gridspec_kw={"width_ratios": [3, 2]})
    labels = [label for label, *_ in pairs]
    ratios = [ours / theirs if theirs else 0.0 for _label, ours, theirs, _name in pairs]
    left.barh(labels, ratios, color="#3b7dd8")
    left.axvline(1.0, color="#555", linestyle="--", linewidth=1)
    for row, ((_label, ours, theirs, name), value) in enumerate(zip(pairs, ratios, strict=True)):
        left.text(
            value, row, f"  {value:.2f}x  ({ours:,.0f} vs {name} {theirs:,.0f})", va="center", fontsize=8
        )
    left.set_xlabel("Activator ÷ its baseline in the same run")
    left.set_xlim(0, max([*ratios, 1.0]) * 1.9)
    left.invert_yaxis()
    left.set_title("Throughput against the same-run baseline")
    cuts = [key for key in ("p50", "p95", "p99") if key in latency]
    right.bar(cuts, [latency[key] for key in cuts], color="#e08a2c")
    for index, key in enumerate(cuts):
        right.text(index, latency[key], f"{latency[key]:.0f} ms", ha="center", va="bottom", fontsize=9)
    right.set_ylabel("ms from the run's 202 to the item readable")
    right.set_title(f"Small-run latency ({latency.get('run_topics', 25)}-topic runs)")
    figure.suptitle(f"Activator bench ({'quick' if results.get('quick') else 'full'})")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return True
