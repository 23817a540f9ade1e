"""Refuses request bodies over the configured size with a 413 problem, before they fill memory."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.gateway.problems import problem_response

TITLE = "Content Too Large"  # RFC 9110's name for 413


class PayloadTooLarge(HTTPException):
    """Raised while a body without (or with a lying) Content-Length is read past the limit."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, detail=too_large_detail(max_bytes))


def too_large_detail(max_bytes: int) -> str:
    """The problem detail naming the limit."""
    return f"The request body exceeds {max_bytes} bytes (MAX_REQUEST_BODY_BYTES)"


class BodySizeLimit:
    """ASGI middleware: a declared Content-Length over the limit is refused before the body is read;
    a streamed body is counted and refused as soon as it passes the limit."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            response = problem_response(413, TITLE, too_large_detail(self.max_bytes))
            await response(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise PayloadTooLarge(self.max_bytes)
            return message

        await self.app(scope, counting_receive, send)


def install_body_limit(app: FastAPI, max_bytes: int) -> None:
    """Add the middleware and the handler turning a body read past the limit into the 413 problem."""

    @app.exception_handler(PayloadTooLarge)
    async def _too_large(_request: Request, exc: PayloadTooLarge) -> JSONResponse:
        return problem_response(413, TITLE, str(exc.detail))

    app.add_middleware(BodySizeLimit, max_bytes=max_bytes)
