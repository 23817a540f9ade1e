"""Reading one segment from a REST platform that answers `{id, name, status}` and 404 for unknown ids."""

from __future__ import annotations

from shared.connectors.errors import PlatformError
from shared.connectors.failures import malformed, require_segment_id
from shared.connectors.http import PlatformHttp
from shared.connectors.protocol import PlatformSegment


async def get_rest_segment(http: PlatformHttp, path: str) -> PlatformSegment | None:
    """GET the segment at `path`; None on 404, a permanent error when the body is not a segment."""
    try:
        body = await http.request_json("GET", path)
    except PlatformError as exc:
        if exc.status_code == 404:
            return None
        raise
    if not isinstance(body, dict):
        raise malformed("segment is not an object")
    return PlatformSegment(
        id=require_segment_id(body), name=str(body.get("name", "")), status=str(body.get("status", ""))
    )
