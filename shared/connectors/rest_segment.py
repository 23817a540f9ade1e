"""Reading one segment from a REST platform that answers `{id, name, status}` (and its prices, where shown)
and 404 for unknown ids."""

from __future__ import annotations

from typing import Any, TypeGuard

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
        id=require_segment_id(body),
        name=str(body.get("name", "")),
        status=str(body.get("status", "")),
        cpms=_cpms(body),
    )


def _number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _cpms(body: dict[str, Any]) -> tuple[float, ...]:
    """The custom API's `price`, or every `cpm` of LiveRamp's `pricing.prices`; empty when neither is shown."""
    price = body.get("price")
    if _number(price):
        return (float(price),)
    pricing = body.get("pricing")
    prices = pricing.get("prices") if isinstance(pricing, dict) else None
    if not isinstance(prices, list):
        return ()
    return tuple(float(p["cpm"]) for p in prices if isinstance(p, dict) and _number(p.get("cpm")))
