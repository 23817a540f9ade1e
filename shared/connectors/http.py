"""One pooled httpx client per connection: auth, timeout, retries and error classification."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

import httpx
from opentelemetry.trace import SpanKind

from shared.connectors.auth import AuthStrategy, no_auth
from shared.connectors.deps import ConnectorDeps
from shared.connectors.errors import ErrorClass, PlatformError
from shared.connectors.failures import (
    error_from_response,
    error_from_transport,
    malformed,
    oauth_error_code,
    parse_retry_after,
    scrub,
    trim,
)
from shared.connectors.http_settings import HttpSettings
from shared.connectors.retry import with_retries
from shared.egress import EgressRefused
from shared.metrics import PLATFORM_REQUEST_SECONDS
from shared.tracing import tracer

_OAUTH_AUTH_ERRORS = {"invalid_client", "invalid_grant", "unauthorized_client"}


class PlatformHttp:
    """HTTP access to one platform connection; every failure surfaces as a classified PlatformError."""

    def __init__(
        self,
        *,
        platform: str,
        base_url: str,
        settings: HttpSettings,
        deps: ConnectorDeps,
        auth: AuthStrategy | None = None,
        default_headers: Mapping[str, str] | None = None,
    ) -> None:
        self._platform = platform
        self._settings = settings
        self._auth: AuthStrategy = auth or no_auth()
        self._default_headers = dict(default_headers or {})
        self._sleep = deps.sleep
        self._url_guard = deps.url_guard
        self._throttle = deps.throttle
        self._allowed_origins: set[str] = set()
        self._client = httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(settings.timeout_s),
            limits=httpx.Limits(
                max_connections=settings.max_connections,
                max_keepalive_connections=settings.max_connections,
            ),
            transport=deps.transport,
            follow_redirects=False,
        )

    def secrets(self) -> list[str]:
        """Credential values this connection knows, for scrubbing messages built outside this class."""
        return list(self._auth.secrets())

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: object = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send an authenticated request with retries; return the 2xx response or raise PlatformError."""
        refreshed = False

        async def attempt() -> httpx.Response:
            nonlocal refreshed
            sent = await self._auth_headers(headers)
            response = await self._send(method, path, json=json, headers=sent)
            # One token renewal per logical request; a second rejection is a real auth failure.
            if response.status_code in (401, 403) and not refreshed and await self._auth.refresh(sent, self):
                refreshed = True
                response = await self._send(
                    method, path, json=json, headers=await self._auth_headers(headers)
                )
            if response.is_success:
                return response
            raise error_from_response(response, self.secrets())

        return await with_retries(
            attempt,
            settings=self._settings,
            sleep=self._sleep,
            operation=f"{self._platform} {method} {path}",
            platform=self._platform,
        )

    async def request_json(
        self,
        method: str,
        path: str,
        *,
        json: object = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """Like `request`, returning the parsed JSON body (a malformed body is a permanent error)."""
        return self.parse_json(await self.request(method, path, json=json, headers=headers))

    async def post_form(self, url: str, form: Mapping[str, str]) -> Any:
        """Unauthenticated form-encoded POST for OAuth2 tokens; not retried itself (its caller is)."""
        response = await self._send("POST", url, data=form, headers={})
        if response.is_success:
            return self.parse_json(response)
        error = error_from_response(response, [*self.secrets(), *form.values()])
        if response.status_code == 400 and oauth_error_code(response) in _OAUTH_AUTH_ERRORS:
            # RFC 6749 answers bad credentials with 400: for the caller that is an auth failure.
            error.error_class = ErrorClass.AUTH
        raise error

    async def post_json(self, url: str, body: Mapping[str, object]) -> Any:
        """Unauthenticated JSON POST for a login that mints tokens (TTD); not retried itself (its caller is)."""
        response = await self._send("POST", url, json=body, headers={})
        if response.is_success:
            return self.parse_json(response)
        sent = [value for value in body.values() if isinstance(value, str)]
        raise error_from_response(response, [*self.secrets(), *sent])

    def parse_json(self, response: httpx.Response) -> Any:
        """The response's JSON body, or a permanent PlatformError when it is not JSON."""
        try:
            return response.json()
        except ValueError:
            # Scrubbed before it is cut: a secret cut in two would no longer be recognised.
            excerpt = trim(scrub(response.text, self.secrets()), 80)
            raise malformed(f"expected JSON, got {excerpt!r}", self.secrets()) from None

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    async def _auth_headers(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        return {**self._default_headers, **(extra or {}), **await self._auth.headers(self)}

    async def _send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        json: object = None,
        data: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        request = self._client.build_request(method, url, json=json, data=data, headers=headers)
        await self._check_egress(request.url)
        if self._throttle is not None:
            await self._throttle.acquire()
        started = time.perf_counter()
        try:
            # httpx times each phase; this bounds the whole exchange, slow-drip bodies included.
            async with asyncio.timeout(self._settings.timeout_s):
                with tracer.start_as_current_span(
                    f"{self._platform} {method}",
                    kind=SpanKind.CLIENT,
                    attributes={"http.request.method": method, "server.address": request.url.host},
                ) as span:
                    response = await self._client.send(request)
                    span.set_attribute("http.response.status_code", response.status_code)
        except EgressRefused as exc:  # the connection-time check of a guarded transport
            raise PlatformError(ErrorClass.PERMANENT, f"egress refused: {exc}") from None
        except (httpx.TransportError, TimeoutError) as exc:
            PLATFORM_REQUEST_SECONDS.labels(self._platform, "error").observe(time.perf_counter() - started)
            raise error_from_transport(exc, self.secrets(), timeout_s=self._settings.timeout_s) from None
        PLATFORM_REQUEST_SECONDS.labels(self._platform, f"{response.status_code // 100}xx").observe(
            time.perf_counter() - started
        )
        if response.status_code == 429 and self._throttle is not None:
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            if retry_after:
                # One 429 pauses the whole connection, not just this request's retry.
                await self._throttle.pause(min(retry_after, self._settings.retry_after_cap_s))
        return response

    async def _check_egress(self, url: httpx.URL) -> None:
        origin = f"{url.scheme}://{url.host}:{url.port or (443 if url.scheme == 'https' else 80)}"
        if self._url_guard is None or origin in self._allowed_origins:
            return
        try:
            await self._url_guard(origin)
        except Exception as exc:
            raise PlatformError(ErrorClass.PERMANENT, f"egress refused: {exc}") from None
        self._allowed_origins.add(origin)
