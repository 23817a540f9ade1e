"""Errors in each platform's own shape, raised by handlers and rendered by one exception handler."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from services.mock_platforms.platforms import Platform

_ERROR_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    429: "rate_limited",
}


class PlatformHTTPError(Exception):
    """An answer other than success, already in the platform's wire shape."""

    def __init__(self, status: int, body: Mapping[str, object], headers: Mapping[str, str] | None = None):
        super().__init__(f"{status} {dict(body)}")
        self.status = status
        self.body = body
        self.headers = dict(headers or {})


def error_body(platform: Platform, status: int, message: str) -> dict[str, object]:
    """The platform's error document: TTD's `{"Message"}`, everyone else's `{"error", "message"}`."""
    if platform is Platform.TRADEDESK:
        return {"Message": message}
    code = _ERROR_CODES.get(status, "server_error" if status >= 500 else "error")
    return {"error": code, "message": message}


def platform_error(platform: Platform, status: int, message: str) -> PlatformHTTPError:
    return PlatformHTTPError(status, error_body(platform, status, message))


def invalid_request(platform: Platform, message: str, field: str | None = None) -> PlatformHTTPError:
    """A permanent 400; TTD's carries `ErrorDetails` naming the property."""
    if platform is Platform.TRADEDESK:
        details = [{"Property": field or "", "Reasons": [message]}]
        return PlatformHTTPError(400, {"Message": "The request failed validation.", "ErrorDetails": details})
    return PlatformHTTPError(400, {"error": "invalid_request", "message": message})


def not_found(platform: Platform, what: str) -> PlatformHTTPError:
    if platform is Platform.TRADEDESK:
        return PlatformHTTPError(404, {"Message": f"{what} not found"})
    return PlatformHTTPError(404, {"error": "not_found", "message": f"{what} not found"})


def rejected_name(platform: Platform, name: str, field: str) -> PlatformHTTPError:
    """The `reject_names` fault: a permanent refusal a retry cannot fix."""
    return invalid_request(platform, f"{field} {name!r} is not allowed on this platform", field)


async def render_platform_error(_request: Request, exc: Exception) -> Response:
    if not isinstance(exc, PlatformHTTPError):  # registered for this class only
        raise exc
    return JSONResponse(dict(exc.body), status_code=exc.status, headers=exc.headers)
