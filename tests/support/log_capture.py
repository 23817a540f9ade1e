"""Keeps what pytest captured from every test (stdout, stderr, log records) for the leak check that runs last."""

from __future__ import annotations

import pytest

LAST = "last"
"""Marker of tests that must run after every other test of the session (the no-secrets-in-logs check)."""


class CapturedOutput:
    """A pytest plugin collecting each report's captured sections, including those of passing tests."""

    def __init__(self) -> None:
        self.sections: list[tuple[str, str]] = []

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Remember what this phase of a test printed and logged."""
        self.sections.extend((f"{report.nodeid} {title}", text) for title, text in report.sections)

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Move tests marked `last` to the end, whatever their directory and file name."""
        items.sort(key=lambda item: item.get_closest_marker(LAST) is not None)


CAPTURED = pytest.StashKey[CapturedOutput]()
