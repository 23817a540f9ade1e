"""Keeps the body of every API response the tests receive, for the leak check that runs last.

Tests make their own httpx clients (per org, per world), so the capture sits in httpx itself: each
non-streamed response to an `/api/` or `/ui/` path is kept once (identical bodies are stored once).
Streamed responses (server-sent events) are left alone: reading them here would never end.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
import pytest

Send = Callable[..., Coroutine[Any, Any, httpx.Response]]
MAX_KEPT_BYTES = 200 * 1024 * 1024


class ApiResponses:
    """The distinct API response bodies (and the headers they came with) seen in this session."""

    def __init__(self) -> None:
        self.bodies: list[tuple[str, str]] = []
        self.responses = 0
        self._seen: set[bytes] = set()
        self._kept_bytes = 0
        self._original: Send | None = None

    def keep(self, response: httpx.Response) -> None:
        """Remember the response if it is an API answer not seen before."""
        if not response.request.url.path.startswith(("/api/", "/ui/")):
            return
        self.responses += 1
        text = f"{response.headers}\n{response.text}"
        digest = hashlib.sha256(text.encode(errors="replace")).digest()
        if digest in self._seen or self._kept_bytes > MAX_KEPT_BYTES:
            return
        self._seen.add(digest)
        self._kept_bytes += len(text)
        self.bodies.append(
            (f"{response.request.method} {response.request.url.path} {response.status_code}", text)
        )

    def install(self) -> None:
        """Wrap httpx.AsyncClient.send for the session."""
        original: Send = httpx.AsyncClient.send
        self._original = original
        capture = self

        async def send(client: httpx.AsyncClient, request: httpx.Request, **kwargs: Any) -> httpx.Response:
            response = await original(client, request, **kwargs)
            if not kwargs.get("stream", False):
                capture.keep(response)
            return response

        httpx.AsyncClient.send = send  # type: ignore[method-assign, assignment]

    def uninstall(self) -> None:
        """Put httpx back as it was."""
        if self._original is not None:
            httpx.AsyncClient.send = self._original  # type: ignore[method-assign]


API_RESPONSES = pytest.StashKey[ApiResponses]()
