"""Fakes for connector tests: recorded sleeps instead of real time, scripted HTTP platforms."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from shared.connectors import ErrorClass, PlatformError

Handler = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]


class FakeSleep:
    """Records every requested wait and returns at once."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


class ScriptedPlatform:
    """An httpx transport answering from a handler and keeping every request it saw."""

    def __init__(self, handler: Handler) -> None:
        self.requests: list[httpx.Request] = []
        self._handler = handler
        self.transport = httpx.MockTransport(self._handle)

    async def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        response = self._handler(request)
        if not isinstance(response, httpx.Response):
            response = await response
        return response

    def paths(self) -> list[str]:
        return [f"{request.method} {_raw_path(request)}" for request in self.requests]

    def bodies(self, path_suffix: str) -> list[Any]:
        return [json.loads(r.content) for r in self.requests if _raw_path(r).endswith(path_suffix)]


def _raw_path(request: httpx.Request) -> str:
    # Percent-encoding kept, so tests see exactly what went on the wire.
    return request.url.raw_path.decode().split("?", 1)[0]


def answers(*responses: httpx.Response) -> Handler:
    """A handler replying with the given responses in turn, repeating the last one."""
    queue = list(responses)

    def handler(_request: httpx.Request) -> httpx.Response:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return handler


class FakeTaxonomyDrop:
    """An in-memory SFTP drop that, like Index Exchange, rejects a whole file for one bad segment."""

    def __init__(self, *, reject_names: set[str] | None = None) -> None:
        self.files: dict[str, dict[str, Any]] = {}
        self.attempts = 0
        self.reject_names = reject_names or set()
        self.failures: list[PlatformError] = []

    async def upload(self, file_name: str, content: bytes) -> None:
        self.attempts += 1
        if self.failures:
            raise self.failures.pop(0)
        taxonomy = json.loads(content)
        if any(segment["externalSegmentName"] in self.reject_names for segment in taxonomy["segments"]):
            raise PlatformError(ErrorClass.PERMANENT, "sftp: SFTPPermissionDenied: rejected")
        self.files[file_name] = taxonomy

    async def check(self) -> None:
        if self.failures:
            raise self.failures.pop(0)

    def segments(self) -> dict[str, dict[str, Any]]:
        return {s["externalSegmentID"]: s for taxonomy in self.files.values() for s in taxonomy["segments"]}
