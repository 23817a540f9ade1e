"""How long a fault stalled work: runs' processed counts sampled from Postgres around the faults.

A run's stall after a fault is the longest time in which its count did not move, from the fault until
the run finished (or the next fault). Writes already under way may land just after the fault, so the
stall need not start at the fault itself. The chaos table and the bench's failover scenario report it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from shared.db.pool import POSTGRES_UNAVAILABLE, create_pool
from shared.runs.status import TERMINAL_STATUSES

SAMPLE_INTERVAL_S = 0.2


@dataclass
class RunTrace:
    """One run's processed count over time: the moments (monotonic seconds) it moved."""

    kind: str
    first_seen: float
    changes: list[float] = field(default_factory=list)
    last_seen: float = 0.0
    finished: float | None = None


@dataclass(frozen=True, slots=True)
class Stall:
    """The longest stall of a run, in seconds since the first fault: from `start` until `end`."""

    start: float
    end: float

    @property
    def seconds(self) -> float:
        """How long the run stood still."""
        return self.end - self.start


@dataclass
class ProgressProbe:
    """Samples the watched runs' processed counts; `fault()` marks the moment each fault happens."""

    database_url: str
    interval_s: float = SAMPLE_INTERVAL_S
    traces: dict[str, RunTrace] = field(default_factory=dict)
    faults: list[float] = field(default_factory=list)
    _watched: dict[str, str] = field(default_factory=dict)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    def watch(self, run_id: str, kind: str = "push") -> None:
        """Trace this run from the next sample on."""
        self._watched[run_id] = kind

    def fault(self) -> None:
        """A fault happens now: a kill, a broker or database stopped."""
        self.faults.append(time.monotonic())

    async def run(self) -> None:
        """Sample until `stop()`; a database that is away (an outage) is asked again at the next tick."""
        pool = await create_pool(self.database_url, max_size=1)
        last: dict[str, int] = {}
        try:
            while not self._stop.is_set():
                with contextlib.suppress(
                    *POSTGRES_UNAVAILABLE, TimeoutError
                ):  # the database may be the fault
                    rows = await pool.fetch(
                        "SELECT id::text AS id, processed, status FROM runs WHERE id = ANY($1::uuid[])",
                        list(self._watched),
                    )
                    now = time.monotonic()
                    for row in rows:
                        self._sample(row["id"], row["processed"], row["status"], now, last)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self.interval_s)
        finally:
            pool.terminate()  # a connection broken by an outage must not hold up close()

    def _sample(self, run_id: str, processed: int, status: str, now: float, last: dict[str, int]) -> None:
        trace = self.traces.get(run_id)
        if trace is None:
            trace = self.traces[run_id] = RunTrace(self._watched[run_id], now)
        elif trace.finished is None and processed != last[run_id]:
            trace.changes.append(now)
        last[run_id] = processed
        trace.last_seen = now
        if trace.finished is None and status in TERMINAL_STATUSES:
            trace.finished = now

    def stop(self) -> None:
        """End the sampling loop."""
        self._stop.set()

    def stall(self, run_id: str) -> Stall | None:
        """The run's longest stall that began after a fault (None without a fault or a trace).

        For each fault: the gaps between its moment, the count's moves after it and the run's end, that
        begin before the next fault; the longest of all.
        """
        trace = self.traces.get(run_id)
        if trace is None or not self.faults:
            return None
        origin = self.faults[0]
        end = trace.finished if trace.finished is not None else trace.last_seen
        gaps: list[tuple[float, float]] = []
        for fault, following in itertools.zip_longest(self.faults, self.faults[1:], fillvalue=math.inf):
            if fault < trace.first_seen or fault > end:
                continue  # the run was not traced yet, or had finished
            moments = [fault, *(moment for moment in trace.changes if moment > fault), end]
            gaps += [gap for gap in itertools.pairwise(moments) if gap[0] < following]
        if not gaps:
            return None
        start, stop = max(gaps, key=lambda gap: gap[1] - gap[0])
        return Stall(start - origin, stop - origin)

    def stall_s(self, run_id: str) -> float | None:
        """Seconds of the run's longest stall after a fault, or None."""
        stall = self.stall(run_id)
        return None if stall is None else stall.seconds

    def since_fault(self, moment: float | None) -> float:
        """`moment` in seconds since the first fault (NaN when not reached)."""
        if moment is None or not self.faults:
            return math.nan
        return moment - self.faults[0]


@contextlib.asynccontextmanager
async def probing(database_url: str) -> AsyncIterator[ProgressProbe]:
    """A probe sampling in the background for as long as the block runs."""
    probe = ProgressProbe(database_url)
    sampling = asyncio.create_task(probe.run())
    try:
        yield probe
    finally:
        probe.stop()
        await sampling
