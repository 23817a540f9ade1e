"""ASGI middleware that applies a platform's faults to its API routes (never to /admin)."""

from __future__ import annotations

import asyncio
import json
from http import HTTPStatus
from urllib.parse import quote

from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.mock_platforms.faults import Disruption, FaultDecision
from services.mock_platforms.platform_errors import error_body
from services.mock_platforms.platforms import Platform, platform_of_path
from services.mock_platforms.state import MockState

# What a JSON client chokes on: a 200 whose body ends mid-string.
MALFORMED_BODY = b'{"id": "seg-0001", "name": "Trunc'
# What a load balancer in front of an API answers when the API behind it is down.
HTML_ERROR_PAGE = (
    "<html>\r\n<head><title>{status} {phrase}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {phrase}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


class ConnectionDroppedError(Exception):
    """Raised to drop a connection where the server exposes no transport (in-process ASGI clients)."""


class FaultInjectionMiddleware:
    """Counts every platform request, then delays or disrupts it as the platform's faults say."""

    def __init__(self, app: ASGIApp, state: MockState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        platform = platform_of_path(scope["path"]) if scope["type"] == "http" else None
        if platform is None:
            await self.app(scope, receive, send)
            return
        platform_state = self.state.platforms[platform]
        platform_state.stats.requests += 1
        decision = platform_state.faults.decide()
        if decision is None:
            await self.app(scope, receive, send)
            return
        if decision.latency_s:
            await asyncio.sleep(decision.latency_s)
        if decision.disruption is None:
            await self.app(scope, receive, send)
        elif decision.disruption is Disruption.DROP_CONNECTION:
            await drop_connection(receive)
        elif decision.disruption is Disruption.DROP_RESPONSE:
            await self.app(scope, receive, _discard)
            await drop_connection(receive)
        else:
            await _fault_response(platform, decision, scope)(scope, receive, send)


def _fault_response(platform: Platform, decision: FaultDecision, scope: Scope) -> Response:
    headers = {"Retry-After": str(decision.retry_after)} if decision.retry_after is not None else {}
    if decision.disruption is Disruption.HTML_ERROR:
        page = HTML_ERROR_PAGE.format(status=decision.status, phrase=_phrase(decision.status))
        return HTMLResponse(page, decision.status, headers)
    if decision.disruption is Disruption.MALFORMED_JSON:
        return Response(MALFORMED_BODY, 200, headers, media_type="application/json")
    message = f"injected fault: HTTP {decision.status}"
    if decision.disruption is Disruption.ECHO_CREDENTIALS:
        message = echoed_credentials(scope)
    return JSONResponse(error_body(platform, decision.status, message), decision.status, headers)


# Headers that carry no credential; every other one may (auth type `header` names its own).
_PLAIN_HEADERS = {
    "accept",
    "accept-encoding",
    "connection",
    "content-length",
    "content-type",
    "host",
    "idempotency-key",
    "traceparent",
    "tracestate",
    "user-agent",
}


def echoed_credentials(scope: Scope) -> str:
    """What a careless platform says when it refuses a key: the key, bare, URL-encoded and in JSON."""
    sent = [
        value.decode("latin-1").removeprefix("Bearer ")
        for name, value in scope["headers"]
        if name.decode("latin-1").lower() not in _PLAIN_HEADERS
    ]
    bare = " ".join(sent)
    encoded = " ".join(quote(value, safe="") for value in sent)
    return f"invalid token {bare} (as a query: {encoded}; as JSON: {json.dumps({'sent': sent})})"


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


async def _discard(_message: Message) -> None:
    """The send of a request whose response is lost on the way back."""


async def drop_connection(receive: Receive) -> None:
    """Close the client's connection without a response.

    uvicorn passes its per-request cycle's bound `receive` through Starlette untouched, and
    that cycle holds the socket's transport: closing it is what a crashed proxy looks like
    to the client (`Server disconnected without sending a response`). Yielding once lets
    uvicorn see the disconnect, so it does not try to answer 500 on a dead socket.
    """
    transport = getattr(getattr(receive, "__self__", None), "transport", None)
    if not isinstance(transport, asyncio.BaseTransport):
        raise ConnectionDroppedError("connection dropped by an injected fault")
    transport.close()
    await asyncio.sleep(0)
