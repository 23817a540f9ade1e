"""What the service processes used during a scenario, from /proc: peak resident memory (P5) and CPU time."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

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
