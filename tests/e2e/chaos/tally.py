"""What a fault-injection scenario left behind, counted: lost items, duplicates, wrong statuses, and how
long the fault stalled the run (tests/e2e/chaos/progress.py)."""

from __future__ import annotations

import statistics
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest


@dataclass
class Tally:
    """One repetition of a scenario; every figure but `items` must be zero."""

    scenario: str
    items: int
    lost: int = 0
    duplicated: int = 0
    wrong_status: int = 0
    problems: list[str] = field(default_factory=list)
    # Seconds the run's processed count stood still after the fault (None: not measured, e.g. a run
    # started after the outage).
    stall_s: float | None = None

    def lose(self, count: int, what: str) -> None:
        """Count `count` lost items (when positive), saying what was missing."""
        if count > 0:
            self.lost += count
            self.problems.append(f"lost {count}: {what}")

    def duplicate(self, count: int, what: str) -> None:
        """Count `count` duplicates (when positive)."""
        if count > 0:
            self.duplicated += count
            self.problems.append(f"duplicated {count}: {what}")

    def expect(self, name: str, actual: object, expected: object, *, weight: int = 1) -> None:
        """A status or counter that must have one value; a mismatch counts `weight` wrong statuses."""
        if actual != expected:
            self.wrong_status += weight
            self.problems.append(f"{name} is {actual!r}, expected {expected!r}")

    @property
    def clean(self) -> bool:
        """Nothing lost, duplicated or in the wrong status."""
        return self.lost == self.duplicated == self.wrong_status == 0


@dataclass
class ScenarioRow:
    repetitions: int = 0
    items: int = 0
    lost: int = 0
    duplicated: int = 0
    wrong_status: int = 0
    stalls: list[float] = field(default_factory=list)

    def stall_cells(self) -> tuple[str, str]:
        """Median and maximum stall seconds over the repetitions ("-" when none was measured)."""
        if not self.stalls:
            return "-", "-"
        return f"{statistics.median(self.stalls):.1f}", f"{max(self.stalls):.1f}"


class ChaosTable:
    """The figures of every scenario run in this session, printed at the end (see conftest)."""

    HEADER = (
        "scenario",
        "repetitions",
        "items",
        "lost",
        "duplicated",
        "wrong-status",
        "stall-s median",
        "stall-s max",
    )

    def __init__(self) -> None:
        self.rows: dict[str, ScenarioRow] = {}

    def add(self, tally: Tally) -> None:
        """Fold one repetition into its scenario's row."""
        row = self.rows.setdefault(tally.scenario, ScenarioRow())
        row.repetitions += 1
        row.items += tally.items
        row.lost += tally.lost
        row.duplicated += tally.duplicated
        row.wrong_status += tally.wrong_status
        if tally.stall_s is not None:
            row.stalls.append(tally.stall_s)

    def render(self) -> list[str]:
        """The table as text lines."""
        cells: list[tuple[object, ...]] = [self.HEADER]
        cells += [
            (name, row.repetitions, row.items, row.lost, row.duplicated, row.wrong_status, *row.stall_cells())
            for name, row in self.rows.items()
        ]
        width = max(len(str(cell[0])) for cell in cells)
        return [
            f"{cell[0]!s:<{width}}  "
            + "  ".join(
                f"{value!s:>{len(title)}}" for value, title in zip(cell[1:], self.HEADER[1:], strict=True)
            )
            for cell in cells
        ]


CHAOS_TABLE = pytest.StashKey[ChaosTable]()


def report(table: ChaosTable, tally: Tally) -> None:
    """Record the repetition in the table, then fail the test if anything was lost, doubled or wrong."""
    table.add(tally)
    assert tally.clean, f"{tally.scenario}: " + "; ".join(tally.problems)


async def tally_push(
    scenario: str,
    pool: asyncpg.Pool[Any],
    status: dict[str, Any],
    stats: dict[str, Any],
    *,
    topics: int,
) -> Tally:
    """A push run of `topics` new topics that must end with each created exactly once."""
    tally = Tally(scenario, items=topics)
    run_id = uuid.UUID(status["runId"])
    rows = await pool.fetch("SELECT outcome FROM run_items WHERE run_id = $1", run_id)
    outcomes = Counter(row["outcome"] for row in rows)
    tally.lose(topics - len(rows), "items without a terminal result")
    tally.lose(topics - stats["segments"], "topics without a segment on the platform")
    tally.duplicate(len(rows) - topics, "terminal results beyond one per topic")
    tally.duplicate(stats["segments"] - topics, "segments held by the platform beyond one per topic")
    tally.duplicate(len(stats["creates_by_key"]) - topics, "distinct create keys beyond one per topic")
    tally.duplicate(status["processed"] - topics, "items counted more than once")
    wrong_items = sum(count for outcome, count in outcomes.items() if outcome != "created")
    if wrong_items:
        tally.wrong_status += wrong_items
        tally.problems.append(f"item outcomes {dict(outcomes)}, expected all 'created'")
    tally.expect("run status", status["status"], "succeeded")
    for counter in ("total", "processed", "succeeded"):
        tally.expect(counter, status[counter], topics)
    for counter in ("failed", "skipped", "errorCount"):
        tally.expect(counter, status[counter], 0)
    ledger = await pool.fetchrow(
        """SELECT count(*) FILTER (WHERE state = 'active' AND platform_segment_id IS NOT NULL) AS active,
                  count(*) AS rows
           FROM activations WHERE connection_id = $1""",
        uuid.UUID(status["connectionId"]),
    )
    assert ledger is not None
    tally.expect("active activations", (ledger["active"], ledger["rows"]), (topics, topics))
    return tally


async def tally_sync(
    scenario: str,
    pool: asyncpg.Pool[Any],
    status: dict[str, Any],
    *,
    records: int,
    pages: int,
) -> Tally:
    """A first sync of `records` new records that must insert each exactly once."""
    tally = Tally(scenario, items=records)
    topics = await pool.fetchrow(
        """SELECT count(*) AS rows, count(DISTINCT external_id) AS distinct_ids,
                  count(*) FILTER (WHERE status = 'active') AS active
           FROM topics WHERE source_connection_id = $1""",
        uuid.UUID(status["connectionId"]),
    )
    assert topics is not None
    tally.lose(records - topics["distinct_ids"], "source records without a topic")
    tally.duplicate(topics["rows"] - topics["distinct_ids"], "topics synced twice")
    tally.duplicate(status["inserted"] - records, "records inserted more than once")
    tally.duplicate(status["processed"] - records, "records counted more than once")
    tally.expect("run status", status["status"], "succeeded")
    tally.expect("active topics", topics["active"], records)
    for counter in ("total", "processed", "inserted"):
        tally.expect(counter, status[counter], records)
    for counter in ("updated", "unchanged", "invalid", "skipped", "failed", "errorCount"):
        tally.expect(counter, status[counter], 0)
    tally.expect("pages", status["pages"], pages)
    return tally
