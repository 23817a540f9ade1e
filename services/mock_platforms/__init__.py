"""Fakes of the ad platforms and the DMP, faithful to docs/platform-wire.md, for demo, tests and benchmarks."""

from services.mock_platforms.app import build_app, serve
from services.mock_platforms.state import MockState

__all__ = ["MockState", "build_app", "serve"]
