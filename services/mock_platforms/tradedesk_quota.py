"""The Trade Desk's request quota: per endpoint and login over a window (about a minute), then 429.

TTD documents the mechanism, not the numbers: limits "per-endpoint, per-user-account", a window of
"usually one minute", `429 Too Many Requests` with `Retry-After` in seconds and no `X-RateLimit-*`
headers (Foundations/resources/doc/RateLimits). The fake's quota is off until a test sets one.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable

from starlette.requests import Request

from services.mock_platforms.platform_errors import PlatformHTTPError
from services.mock_platforms.platforms import Platform
from services.mock_platforms.state import MockState, QuotaWindow

PLATFORM = Platform.TRADEDESK


def _caller(state: MockState, request: Request) -> str:
    """The login a request counts against: a minted token's login, else the pasted token itself."""
    token = request.headers.get("ttd-auth", "")
    minted = state.tradedesk.tokens.get(token)
    if minted is not None:
        return f"login:{minted.tenant.get('login', token)}"
    return f"token:{token}"


def quota_dependency(state: MockState) -> Callable[[Request], Awaitable[None]]:
    """A route dependency admitting a request within the quota and answering 429 beyond it."""

    async def enforce_quota(request: Request) -> None:
        store = state.tradedesk
        if store.rate_limit <= 0:
            return
        route = request.scope.get("route")
        endpoint = f"{request.method} {getattr(route, 'path', request.url.path)}"
        key = (endpoint, _caller(state, request))
        now = state.clock()
        window = store.quota_windows.get(key)
        if window is None or now >= window.started_at + store.rate_limit_window_s:
            # A window opens with the first request after the last one closed; it admits `rate_limit`.
            window = store.quota_windows[key] = QuotaWindow(started_at=now)
        if window.admitted < store.rate_limit:
            window.admitted += 1
            return
        state.platforms[PLATFORM].stats.rate_limited += 1
        wait = max(1, math.ceil(window.started_at + store.rate_limit_window_s - now))
        # TTD's 429 body is not public; the fake keeps its {"Message"} envelope.
        raise PlatformHTTPError(
            429,
            {"Message": f"Too many requests to {endpoint}; retry after {wait} s."},
            {"Retry-After": str(wait)},
        )

    return enforce_quota
