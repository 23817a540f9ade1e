"""Fault injection's two modes and its results table.

Short mode (inside `make test`): each kill scenario twice, outages once and briefly. Long mode
(`make test-chaos`, i.e. `ACTIVATOR_CHAOS=long`): each kill scenario ten times (`CHAOS_REPETITIONS`),
outages repeated, and the tests marked `chaos` (the 30-second Postgres outage). Either way the
session ends with a table of every scenario: repetitions, items, lost, duplicated, wrong-status, and the
median and maximum seconds the fault stalled the run (tests/e2e/chaos/progress.py).
"""

from __future__ import annotations

import os

import pytest

from tests.e2e.chaos.tally import CHAOS_TABLE, ChaosTable

LONG = os.environ.get("ACTIVATOR_CHAOS", "").strip().lower() == "long"
KILL_REPETITIONS = int(os.environ.get("CHAOS_REPETITIONS") or (10 if LONG else 2))
OUTAGE_REPETITIONS = int(os.environ.get("CHAOS_OUTAGE_REPETITIONS") or (3 if LONG else 1))


def pytest_configure(config: pytest.Config) -> None:
    """One results table per session."""
    config.stash[CHAOS_TABLE] = ChaosTable()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """`repetition` / `outage_repetition` arguments run a scenario as often as the mode says, seeded by it."""
    for name, count in (("repetition", KILL_REPETITIONS), ("outage_repetition", OUTAGE_REPETITIONS)):
        if name in metafunc.fixturenames:
            metafunc.parametrize(name, range(count), ids=[f"rep{index}" for index in range(count)])


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `chaos` belong to the long mode only."""
    if LONG:
        return
    skip = pytest.mark.skip(reason="long fault-injection mode only: make test-chaos")
    for item in items:
        if item.get_closest_marker("chaos") is not None:
            item.add_marker(skip)


@pytest.fixture
def chaos_table(request: pytest.FixtureRequest) -> ChaosTable:
    """Where each repetition's figures go."""
    return request.config.stash[CHAOS_TABLE]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """Print the results table at the end of the session."""
    table = config.stash.get(CHAOS_TABLE, None)
    if table is None or not table.rows:
        return
    mode = "long" if LONG else "short"
    terminalreporter.write_sep("=", f"fault injection ({mode} mode)")
    for line in table.render():
        terminalreporter.write_line(line)
