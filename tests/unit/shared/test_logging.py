"""A Kafka outage must not bury the logs: aiokafka's repeated errors are let through once per window."""

from __future__ import annotations

import logging

from shared.logging import RepeatThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _record(name: str, msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, args, None)


def test_a_repeated_aiokafka_error_passes_once_per_window_with_its_count() -> None:
    clock = Clock()
    throttle = RepeatThrottle(window_s=10, clock=clock)
    template = "Unable connect to node with id %s: %s"
    passed = [throttle.filter(_record("aiokafka.client", template, 1, "refused")) for _ in range(2500)]
    assert passed.count(True) == 1

    clock.now += 10
    later = _record("aiokafka.client", template, 1, "refused")
    assert throttle.filter(later)
    assert (
        later.getMessage()
        == "Unable connect to node with id 1: refused (and 2499 more like it in the last 10 s)"
    )


def test_other_messages_and_other_loggers_are_not_throttled() -> None:
    throttle = RepeatThrottle(window_s=10, clock=Clock())
    assert throttle.filter(_record("aiokafka.client", "Unable to update metadata from %s", [1]))
    assert throttle.filter(_record("aiokafka.conn", "another message"))
    assert all(throttle.filter(_record("services.push_worker", "push_run_started")) for _ in range(3))
