"""A CPU quota on one process, through the kernel's CPU controller (cgroup v2 `cpu.max`, or v1's CFS quota).

The bench runs as root on a machine whose cgroup file system is writable; where it is not, `CpuCaps.open`
says why and the capped scenarios report that reason instead of a figure.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

_V2_ROOT = Path("/sys/fs/cgroup")
_V1_ROOT = Path("/sys/fs/cgroup/cpu")
_PERIOD_US = 100_000


class CpuCapUnavailable(RuntimeError):
    """No writable CPU controller here: the capped scenario cannot be measured."""


class CpuCaps:
    """Cgroups of the bench's own, one per capped process, removed by `close`."""

    def __init__(self, root: Path, v2: bool, prefix: str) -> None:
        self._root = root
        self._v2 = v2
        self._prefix = prefix
        self._groups: list[Path] = []

    @classmethod
    def open(cls, prefix: str) -> CpuCaps:
        """The CPU controller of this machine (v2 preferred); CpuCapUnavailable when there is none."""
        if (_V2_ROOT / "cgroup.controllers").exists():
            if "cpu" not in (_V2_ROOT / "cgroup.subtree_control").read_text().split():
                try:
                    (_V2_ROOT / "cgroup.subtree_control").write_text("+cpu")
                except OSError as exc:
                    raise CpuCapUnavailable(f"cgroup v2 without the cpu controller: {exc}") from exc
            return cls(_V2_ROOT, True, prefix)
        if (_V1_ROOT / "cpu.cfs_quota_us").exists() and os.access(_V1_ROOT, os.W_OK):
            return cls(_V1_ROOT, False, prefix)
        raise CpuCapUnavailable(
            "no writable cgroup CPU controller (cgroup v2 cpu.max or v1 cpu.cfs_quota_us)"
        )

    def cap(self, name: str, pid: int, cores: float) -> None:
        """Hold process `pid` (every thread of it) to `cores` CPUs' worth of time per period."""
        group = self._root / f"{self._prefix}-{name}"
        group.mkdir(exist_ok=True)
        quota = max(1_000, int(cores * _PERIOD_US))
        if self._v2:
            (group / "cpu.max").write_text(f"{quota} {_PERIOD_US}")
        else:
            (group / "cpu.cfs_period_us").write_text(str(_PERIOD_US))
            (group / "cpu.cfs_quota_us").write_text(str(quota))
        (group / "cgroup.procs").write_text(str(pid))
        if group not in self._groups:
            self._groups.append(group)

    def close(self) -> None:
        """Move what is left in the groups back to the root and remove the groups."""
        for group in self._groups:
            with contextlib.suppress(OSError):
                for pid in (group / "cgroup.procs").read_text().split():
                    with contextlib.suppress(OSError):
                        (self._root / "cgroup.procs").write_text(pid)
                group.rmdir()
        self._groups.clear()
