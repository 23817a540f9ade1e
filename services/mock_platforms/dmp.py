"""The inbound DMP fake (`/dmp/api/v1`): offset and cursor paging over precomputed records."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence

from fastapi import APIRouter, Request, Response
from starlette.datastructures import QueryParams
from starlette.responses import JSONResponse

from services.mock_platforms.credentials import require_header_credentials
from services.mock_platforms.dmp_records import RecordQuery, parse_timestamp
from services.mock_platforms.platform_errors import invalid_request
from services.mock_platforms.platforms import Platform
from services.mock_platforms.state import MockState

PLATFORM = Platform.DMP
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
# Query parameters with a meaning of their own; every other one is a field filter.
PAGING_PARAMS = frozenset({"offset", "limit", "cursor", "page_size", "updated_since"})


def _int_param(params: QueryParams, name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid_request(PLATFORM, f"{name} must be an integer") from None
    if not low <= value <= high:
        raise invalid_request(PLATFORM, f"{name} must be between {low} and {high}")
    return value


def _record_query(params: QueryParams) -> RecordQuery:
    filters = tuple(sorted((name, value) for name, value in params.items() if name not in PAGING_PARAMS))
    since = params.get("updated_since")
    if not since:
        return RecordQuery(filters)
    try:
        return RecordQuery(filters, parse_timestamp(since))
    except ValueError:
        raise invalid_request(PLATFORM, "updated_since must be an ISO-8601 timestamp") from None


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        label, _, offset = text.partition(":")
        if label == "offset" and offset.isdigit():
            return int(offset)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise invalid_request(PLATFORM, "cursor is not one this API issued")


def _items_json(records: Sequence[bytes]) -> bytes:
    return b'{"data":{"items":[' + b",".join(records) + b"]}"


def build_dmp_router(state: MockState) -> APIRouter:
    router = APIRouter(prefix="/dmp/api/v1", tags=["dmp"])

    def authorize(request: Request) -> None:
        require_header_credentials(state.platforms[PLATFORM].tenants, request.headers)

    def before_page() -> None:
        """The `shrink_after_pages` fault: once that many pages were served, the source loses records."""
        faults = state.platforms[PLATFORM].faults
        after = faults.standing.shrink_after_pages
        if after is not None and not faults.shrink_done and faults.pages_served >= after:
            state.dmp.truncate(faults.standing.shrink_by)
            faults.shrink_done = True
        faults.pages_served += 1

    @router.get("/segments")
    async def offset_page(request: Request) -> Response:
        authorize(request)
        params = request.query_params
        offset = _int_param(params, "offset", 0, 0, 1 << 62)
        limit = _int_param(params, "limit", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
        query = _record_query(params)
        before_page()
        records = state.dmp.view(query)
        body = _items_json(records[offset : offset + limit]) + b',"meta":[{"total":%d}]}' % len(records)
        return Response(body, media_type="application/json")

    @router.get("/segments/cursor")
    async def cursor_page(request: Request) -> Response:
        authorize(request)
        params = request.query_params
        cursor = params.get("cursor") or ""
        offset = decode_cursor(cursor) if cursor else 0
        default_size = _int_param(params, "limit", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
        size = _int_param(params, "page_size", default_size, 1, MAX_PAGE_SIZE)
        query = _record_query(params)
        before_page()
        records = state.dmp.view(query)
        end = offset + size
        if cursor and state.platforms[PLATFORM].faults.standing.repeat_cursor:
            next_cursor: str | None = cursor
        else:
            next_cursor = encode_cursor(end) if end < len(records) else None
        paging = b"null" if next_cursor is None else b'"%s"' % next_cursor.encode()
        body = _items_json(records[offset:end]) + b',"paging":{"next_cursor":' + paging + b"}}"
        return Response(body, media_type="application/json")

    @router.get("/segments/count")
    async def count(request: Request) -> Response:
        authorize(request)
        return JSONResponse({"meta": [{"total": len(state.dmp.view(_record_query(request.query_params)))}]})

    return router
