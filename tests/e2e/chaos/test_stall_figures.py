"""The chaos table's stall figures, from made-up traces (no services): what the probe reports after a
fault, and the median and maximum columns."""

from __future__ import annotations

from tests.e2e.chaos.progress import ProgressProbe, RunTrace, Stall
from tests.e2e.chaos.tally import ChaosTable, Tally


def _probe(faults: list[float], changes: list[float], finished: float | None = 22.0) -> ProgressProbe:
    probe = ProgressProbe("postgresql://unused")
    probe.traces["run"] = RunTrace("push", 0.0, changes=changes, last_seen=22.0, finished=finished)
    probe.faults = faults
    return probe


def test_the_stall_is_the_longest_standstill_after_the_fault() -> None:
    probe = _probe([3.2], [1, 2, 3, 10.5, 11, 12, 20, 21])
    # From the fault to the next move is 7.3 s; the count then stands still 8 s from 12 to 20.
    assert probe.stall("run") == Stall(12 - 3.2, 20 - 3.2)
    assert probe.stall_s("run") == 8.0


def test_a_standstill_from_the_fault_counts_from_the_fault() -> None:
    probe = _probe([3.2], [1, 2, 3, 14.2, 14.5, 15])
    assert probe.stall_s("run") == 11.0


def test_a_run_not_yet_finished_stalls_until_the_last_sample() -> None:
    probe = _probe([5.0], [1, 2, 4], finished=None)
    assert probe.stall_s("run") == 17.0


def test_two_faults_each_open_a_window_and_the_longest_stall_wins() -> None:
    probe = _probe([2.5, 12.0], [1, 2, 4, 5, 6, 12.5, 19.5, 20])
    assert probe.stall("run") == Stall(12.5 - 2.5, 19.5 - 2.5)


def test_no_stall_without_a_fault_or_after_the_run_ended() -> None:
    assert _probe([], [1, 2]).stall("run") is None
    assert _probe([30.0], [1, 2]).stall("run") is None
    assert _probe([3.0], [1, 2]).stall("other run") is None


def test_the_table_shows_median_and_maximum_stall_seconds() -> None:
    table = ChaosTable()
    for stall_s in (1.0, 2.5, 9.75, None):
        tally = Tally("kill -9 push-worker (push)", items=600)
        tally.stall_s = stall_s
        table.add(tally)
    table.add(Tally("Postgres down 5 s (push started after)", items=100))
    header, killed, after = table.render()
    assert header.split()[-4:] == ["stall-s", "median", "stall-s", "max"]
    assert killed.split()[-2:] == ["2.5", "9.8"]
    assert after.split()[-2:] == ["-", "-"]
