"""The rate-budget figure's window count: the most requests inside any 1-second window."""

from __future__ import annotations

from bench.rate_budget import max_in_window


def test_counts_the_fullest_sliding_window_not_calendar_seconds() -> None:
    # Two calendar seconds of 2 each, but 0.6-1.4 holds 4 requests within one second.
    assert max_in_window([0.1, 0.6, 0.9, 1.2, 1.4, 2.5]) == 4


def test_a_window_is_half_open() -> None:
    assert max_in_window([0.0, 1.0, 2.0]) == 1
    assert max_in_window([]) == 0
