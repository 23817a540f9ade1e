"""What a failed end-to-end test shows of its services' logs: their warnings and errors, newest last."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable
from pathlib import Path

TROUBLE_LEVELS = frozenset({"warning", "error", "critical", "exception"})
LINES_PER_SERVICE = 25
LINE_CHARS = 400


def _trouble(line: str) -> str | None:
    """The line as reported (a JSON record's traceback cut to its last line), or None if it is no trouble."""
    if not line.startswith("{"):
        return line.rstrip()[:LINE_CHARS] if "ERROR" in line or "WARNING" in line else None
    try:
        record = json.loads(line)
    except ValueError:
        return None
    if str(record.get("level", "")).lower() not in TROUBLE_LEVELS:
        return None
    exception = str(record.pop("exception", "")).strip()
    shown = " ".join(f"{key}={value}" for key, value in record.items())
    if exception:
        shown = f"{shown[:LINE_CHARS]} | {exception.splitlines()[-1]}"
    return shown[: 2 * LINE_CHARS]


def trouble_report(log_dir: Path, services: Iterable[str]) -> str:
    """The last warnings and errors of the services' logs in `log_dir` (their JSON lines and tracebacks)."""
    parts: list[str] = []
    for path in sorted(log_dir / f"{name}.log" for name in services):
        if not path.exists():
            continue
        with path.open(encoding="utf-8", errors="replace") as lines:
            last = deque(filter(None, map(_trouble, lines)), LINES_PER_SERVICE)
        if last:
            parts.append(f"--- {path.stem} (last {len(last)})\n" + "\n".join(last))
    return "\n".join(parts) or f"no warnings or errors in {log_dir}"
