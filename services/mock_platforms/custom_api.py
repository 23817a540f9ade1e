"""The Custom API fake (`/custom`): the seed's REST shape with an Idempotency-Key on create."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict
from starlette.responses import JSONResponse

from services.mock_platforms.credentials import require_header_credentials
from services.mock_platforms.json_bodies import read_model
from services.mock_platforms.platform_errors import not_found, rejected_name
from services.mock_platforms.platforms import Platform
from services.mock_platforms.state import MockState, Segment
from services.mock_platforms.wire_types import CurrencyCode, Price, SegmentName

PLATFORM = Platform.CUSTOM_API


class SegmentCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: SegmentName
    description: str = ""
    price: Price
    currency: CurrencyCode = "USD"
    data_source_location: str = ""


class SegmentUpdate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: SegmentName
    description: str = ""
    price: Price | None = None


def build_custom_api_router(state: MockState) -> APIRouter:
    router = APIRouter(prefix="/custom", tags=["custom_api"])

    def authorize(request: Request) -> None:
        require_header_credentials(state.platforms[PLATFORM].tenants, request.headers)

    def held(segment_id: str) -> Segment:
        segment = state.custom_api.segments.get(segment_id)
        if segment is None:
            raise not_found(PLATFORM, f"segment {segment_id}")
        return segment

    @router.get("/health")
    async def health(request: Request) -> Response:
        authorize(request)
        return JSONResponse({"status": "ok"})

    @router.post("/segments")
    async def create_segment(request: Request) -> Response:
        authorize(request)
        body = await read_model(request, SegmentCreate, PLATFORM)
        platform = state.platforms[PLATFORM]
        if platform.faults.rejects(body.name):
            raise rejected_name(PLATFORM, body.name, "name")
        store = state.custom_api
        key = request.headers.get("idempotency-key")
        # Without an Idempotency-Key the name is the best evidence of a repeated create.
        platform.stats.record_create(key or f"name:{body.name}")
        # A repeated create answers the segment it made (unless that was deleted on the platform since).
        if key and (existing := store.by_idempotency_key.get(key)) and existing in store.segments:
            return JSONResponse(store.segments[existing], 200)
        segment_id = f"seg-{store.next_id:07d}"
        store.next_id += 1
        segment: Segment = {
            "id": segment_id,
            "name": body.name,
            "description": body.description,
            "price": body.price,
            "currency": body.currency,
            "status": "active",
        }
        store.segments[segment_id] = segment
        if key:
            store.by_idempotency_key[key] = segment_id
        platform.stats.writes += 1
        return JSONResponse(segment, 201)

    @router.put("/segments/{segment_id}")
    async def update_segment(segment_id: str, request: Request) -> Response:
        authorize(request)
        segment = held(segment_id)
        body = await read_model(request, SegmentUpdate, PLATFORM)
        platform = state.platforms[PLATFORM]
        if platform.faults.rejects(body.name):
            raise rejected_name(PLATFORM, body.name, "name")
        segment["name"] = body.name
        segment["description"] = body.description
        if body.price is not None:
            segment["price"] = body.price
        platform.stats.writes += 1
        return JSONResponse(segment)

    @router.delete("/segments/{segment_id}")
    async def deactivate_segment(segment_id: str, request: Request) -> Response:
        authorize(request)
        held(segment_id)["status"] = "inactive"
        state.platforms[PLATFORM].stats.writes += 1
        return Response(status_code=204)

    @router.get("/segments/{segment_id}")
    async def get_segment(segment_id: str, request: Request) -> Response:
        authorize(request)
        segment = held(segment_id)
        view = {key: segment.get(key) for key in ("id", "name", "status", "price", "currency")}
        return JSONResponse(view)

    return router
