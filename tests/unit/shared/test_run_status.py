"""The run statuses are listed once; the schema's CHECK must accept exactly them."""

from __future__ import annotations

import re
from pathlib import Path

from shared.runs.status import TERMINAL_STATUS_VALUES, RunStatus

MIGRATIONS = Path(__file__).resolve().parents[3] / "shared" / "db" / "migrations"


def test_the_runs_table_accepts_exactly_the_run_statuses() -> None:
    schema = (MIGRATIONS / "0001.initial-schema.sql").read_text()
    listed = re.search(r"CHECK \(status IN \(('queued'[^)]*)\)\)", schema)
    assert listed is not None
    assert {value.strip(" '") for value in listed.group(1).split(",")} == {
        status.value for status in RunStatus
    }


def test_only_queued_and_running_are_not_final() -> None:
    assert set(TERMINAL_STATUS_VALUES) == {status.value for status in RunStatus} - {"queued", "running"}
    assert RunStatus("incomplete").is_terminal
    assert not RunStatus.RUNNING.is_terminal
