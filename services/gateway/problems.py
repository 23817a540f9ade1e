"""application/problem+json for every error the gateway returns; no stack trace ever leaves."""

from __future__ import annotations

import re
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import asyncpg
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.messages import RejectionCode
from shared.runs.start import RunRefused

log = structlog.get_logger(__name__)

PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """An error the API reports as problem+json."""

    def __init__(
        self, status: int, title: str, detail: str, *, errors: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors


def not_found(what: str) -> Problem:
    """The 404 for an id that does not exist in the caller's org (also another org's ids)."""
    return Problem(404, "Not Found", f"{what} not found")


_REFUSALS: dict[RejectionCode, tuple[int, str]] = {
    RejectionCode.NOT_FOUND: (404, "Not Found"),
    RejectionCode.WRONG_DIRECTION: (409, "Wrong direction"),
    RejectionCode.CONNECTION_DISABLED: (409, "Connection disabled"),
    RejectionCode.IDEMPOTENCY_CONFLICT: (422, "Idempotency key reused"),
}


def run_refused(refused: RunRefused) -> Problem:
    """The problem a refused run start answers with (unknown connection, wrong direction, disabled...)."""
    status, title = _REFUSALS.get(refused.code, (409, "Conflict"))
    return Problem(status, title, refused.detail)


def problem_response(
    status: int,
    title: str,
    detail: str,
    errors: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """An application/problem+json response; `errors` lists the fields at fault (none: empty)."""
    # `errors` is always there, empty when no field is at fault, so clients read one shape.
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "errors": errors or [],
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    # The input value is left out on purpose: it may be a credential.
    return [
        {
            "field": ".".join(str(part) for part in error["loc"]),
            "message": error["msg"],
            "type": error["type"],
        }
        for error in exc.errors()
    ]


def _malformed_json_response(errors: list[dict[str, Any]]) -> JSONResponse:
    # A body that does not parse is a 400, as the OpenAPI document says; 422 is for valid JSON.
    return problem_response(400, "Malformed JSON", "The request body is not valid JSON", errors)


def _malformed_json(exc: RequestValidationError) -> list[dict[str, Any]]:
    """The parser's complaint when the body is not JSON at all (FastAPI's `json_invalid`), else []."""
    return [
        {
            "field": "body",
            "message": f"{error.get('ctx', {}).get('error', error['msg'])} at character {error['loc'][-1]}",
            "type": error["type"],
        }
        for error in exc.errors()
        if error["type"] == "json_invalid"
    ]


def _allowed_methods(request: Request) -> list[str]:
    """Every method the API serves at this path, from its OpenAPI document (Starlette's own Allow
    names the methods of the first route matching the path only)."""
    document: dict[str, Any] = request.app.openapi()
    for template, operations in document.get("paths", {}).items():
        pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, request.url.path):
            methods = {method.upper() for method in operations}
            return sorted(methods | ({"HEAD"} if "GET" in methods else set()))
    return []


def install_problem_handlers(app: FastAPI) -> None:
    """Turn every exception into problem+json, and say so in the OpenAPI document."""
    _install_problem_documentation(app)

    @app.exception_handler(Problem)
    async def _problem(_request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc.status, exc.title, exc.detail, exc.errors)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        if malformed := _malformed_json(exc):
            return _malformed_json_response(malformed)
        return problem_response(422, "Validation failed", "The request is not valid", _field_errors(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.__cause__ is not None:
            # FastAPI's only 400: a body it could not even decode (not UTF-8), raised from the cause.
            cause = {"field": "body", "message": str(exc.__cause__), "type": "json_invalid"}
            return _malformed_json_response([cause])
        try:
            title = HTTPStatus(exc.status_code).phrase
        except ValueError:
            title = str(exc.detail)
        # Keep the headers the status calls for: Allow on a 405, WWW-Authenticate on a 401.
        headers = dict(exc.headers or {})
        if exc.status_code == 405 and (allowed := _allowed_methods(request)):
            headers["Allow"] = ", ".join(allowed)
        return problem_response(exc.status_code, title, str(exc.detail), headers=headers)

    @app.exception_handler(asyncpg.DataError)
    async def _unstorable(request: Request, exc: asyncpg.DataError) -> JSONResponse:
        # A value Postgres cannot hold (a NUL character, a number past a column's precision): the
        # request's fault, so a 422, not a 500. The value is not echoed: it may be a credential.
        log.warning("request_value_refused_by_database", path=request.url.path, sqlstate=exc.sqlstate)
        return problem_response(
            422,
            "Validation failed",
            "The request holds a value that cannot be stored (e.g. a NUL character, \\u0000, in a text)",
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled_error", path=request.url.path, error_type=type(exc).__name__)
        return problem_response(500, "Internal Server Error", "An unexpected error occurred")


PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; `errors` lists the fields at fault (empty when none is).",
    "type": "object",
    "required": ["type", "title", "status", "detail", "errors"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {
                    "field": {"type": "string"},
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
}
_PROBLEMS = {
    400: "The body is not JSON (or not UTF-8)",
    401: "No API key, or one that is unknown or revoked",
    404: "No such resource in the caller's org (another org's ids included)",
    409: "Conflicts with the current state (a duplicate key, a limit reached, a run that cannot do this now)",
    413: "The request body is larger than MAX_REQUEST_BODY_BYTES",
    422: "Validation failed",
}


def document_problems(document: dict[str, Any]) -> None:
    """Declare the problem+json answers of every API operation in an OpenAPI document, in place.

    FastAPI documents only the success and a 422 in its own JSON shape; clients (and schemathesis)
    must be able to rely on what is really answered.
    """
    ref = {"$ref": "#/components/schemas/Problem"}
    for path, operations in document.get("paths", {}).items():
        if not path.startswith("/api/"):
            continue
        for method, operation in operations.items():
            codes = [401, 422]
            if "{" in path:
                codes.append(404)
            if method in ("post", "put", "patch", "delete"):
                codes.append(409)
            if method in ("post", "put", "patch"):
                codes += [400, 413]
            responses = operation.setdefault("responses", {})
            for code in codes:
                responses[str(code)] = {
                    "description": _PROBLEMS[code],
                    "content": {PROBLEM_JSON: {"schema": ref}},
                }
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    if "HTTPValidationError" not in str(document.get("paths")):
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)


def _install_problem_documentation(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document_problems(generate())  # FastAPI caches the document it generates
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
