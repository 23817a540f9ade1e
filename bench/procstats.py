"""What the service processes used during a scenario, from /proc: peak resident memory (P5) and CPU time."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

_TICKS = os.sysconf("SC_CLK_TCK")


def reset_peaks(pids: dict[str, int]) -> None:
    """Restart each process's VmHWM from its current RSS (`5` in clear_refs), so a scenario's peak is its own."""
    for pid in pids.values():
        with contextlib.suppress(OSError):
            Path(f"/proc/{pid}/clear_refs").write_text("5")


def peak_rss_mb(pids: dict[str, int]) -> dict[str, float]:
    """VmHWM of each process in MB; a process that is gone is left out."""
    peaks: dict[str, float] = {}
    for name, pid in pids.items():
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks[name] = round(int(line.split()[1]) / 1024, 1)
    return peaks


def rss_mb(pids: dict[str, int]) -> dict[str, float]:
    """VmRSS of each process in MB now (a worker's idle baseline, or what it still holds after a run)."""
    now: dict[str, float] = {}
    for name, pid in pids.items():
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    now[name] = round(int(line.split()[1]) / 1024, 1)
    return now


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    """User + system CPU time each process has used so far."""
    used: dict[str, float] = {}
    for name, pid in pids.items():
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            used[name] = (int(fields[11]) + int(fields[12])) / _TICKS
    return used


def cpu_since(before: dict[str, float], pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds each process used since `before` was taken."""
    now = cpu_seconds(pids)
    return {name: round(now[name] - before.get(name, 0.0), 1) for name in now}


class CpuMeter:
    """CPU seconds each service used inside the measured stretches only (a scenario's Activator runs, not
    its baselines), and what that costs per item."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.items = 0

    def add(self, before: dict[str, float], pids: dict[str, int], items: int) -> None:
        """Count the stretch since `before` (taken with cpu_seconds) that handled `items` items."""
        now = cpu_seconds(pids)
        for name, used in now.items():
            self.seconds[name] = self.seconds.get(name, 0.0) + used - before.get(name, 0.0)
        self.items += items

    def ms_per_item(self) -> dict[str, float]:
        """CPU milliseconds per item, by service (and `total`)."""
        if not self.items:
            return {}
        per = {name: round(1000 * used / self.items, 3) for name, used in sorted(self.seconds.items())}
        per["total"] = round(sum(per.values()), 3)
        return per


def _cost(results: dict[str, Any]) -> dict[str, Any]:
    """Issue 17 item 7: the CPU a pushed segment and a synced record cost, by service."""
    return {
        key: figures[per]
        for key, scenario, per in (
            ("push_cpu_ms_per_segment", "p1_push", "cpu_ms_per_segment"),
            ("sync_cpu_ms_per_record", "p3_sync", "cpu_ms_per_record"),
        )
        if per in (figures := results.get(scenario) or {})
    }


def summarise(results: dict[str, Any], memory: dict[str, dict[str, float]]) -> None:
    """The figures made of several scenarios': each service's peak RSS (P5) and the cost per item."""
    cost = _cost(results)
    if memory:
        services = sorted({service for peaks in memory.values() for service in peaks})
        results["p5_memory_mb"] = {
            service: max(peaks.get(service, 0.0) for peaks in memory.values()) for service in services
        }
        results["p5_memory_by_scenario_mb"] = memory
        cost["peak_rss_mb"] = results["p5_memory_mb"]
    if cost:
        results["cost"] = cost
