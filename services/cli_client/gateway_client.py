"""The gateway's HTTP API as the CLI uses it: JSON in and out, problems raised as GatewayError."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx

from services.cli_client.sse import ServerSentEvent, SseParser


class GatewayError(Exception):
    """An error the gateway answered with (problem+json), or an unreachable gateway."""

    def __init__(
        self, status: int, title: str, detail: str, errors: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(f"{title}: {detail}")
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors or []

    @classmethod
    def from_response(cls, response: httpx.Response) -> GatewayError:
        """The problem document of a failed response (or its status line when it has none)."""
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        return cls(
            response.status_code,
            str(body.get("title") or response.reason_phrase),
            str(body.get("detail") or response.text[:300]),
            body.get("errors") if isinstance(body.get("errors"), list) else None,
        )


class GatewayClient:
    """A blocking client of one gateway, authenticated with one org's API key."""

    def __init__(self, url: str, api_key: str, *, transport: httpx.BaseTransport | None = None) -> None:
        self._http = httpx.Client(
            base_url=url.rstrip("/"),
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=httpx.Timeout(60, connect=10),
            transport=transport,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> GatewayClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One request; the decoded JSON answer (None for 204), or GatewayError."""
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise GatewayError(0, "Gateway unreachable", f"{self._http.base_url}: {exc}") from exc
        if response.status_code >= 400:
            raise GatewayError.from_response(response)
        return None if response.status_code == 204 or not response.content else response.json()

    def stream_text(self, path: str, *, params: dict[str, Any], accept: str) -> Iterator[str]:
        """A GET answered in another media type (CSV), as text chunks while it arrives; or GatewayError."""
        try:
            with self._http.stream("GET", path, params=params, headers={"Accept": accept}) as response:
                if response.status_code >= 400:
                    response.read()
                    raise GatewayError.from_response(response)
                yield from response.iter_text()
        except httpx.TransportError as exc:
            raise GatewayError(0, "Gateway unreachable", f"{self._http.base_url}: {exc}") from exc

    def connection_id(self, name_or_id: str) -> str:
        """The id of a connection given by id or by its exact name."""
        try:
            return str(uuid.UUID(name_or_id))
        except ValueError:
            pass
        matches = [c["id"] for c in self.call("GET", "/api/connections") if c["name"] == name_or_id]
        if len(matches) != 1:
            detail = "no connection has that name" if not matches else "several connections have that name"
            raise GatewayError(404 if not matches else 409, "Unknown connection", f"{name_or_id!r}: {detail}")
        return str(matches[0])

    def events(self, run_id: str, last_event_id: str | None) -> Iterator[ServerSentEvent]:
        """The run's event stream from `last_event_id` on; ends when the server closes it."""
        headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
        timeout = httpx.Timeout(60, read=60)  # the server sends a keepalive every 15 s
        try:
            with self._http.stream(
                "GET", f"/api/runs/{run_id}/events", headers=headers, timeout=timeout
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    raise GatewayError.from_response(response)
                parser = SseParser(last_event_id)
                for line in response.iter_lines():
                    event = parser.feed(line)
                    if event is not None:
                        yield event
        except httpx.TransportError as exc:
            raise GatewayError(0, "Stream interrupted", str(exc)) from exc
