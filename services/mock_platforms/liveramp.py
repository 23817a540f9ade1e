"""The LiveRamp fake's segment API (`/liveramp/v1`): bearer token from its OAuth2 endpoint plus `LR-Org-Id`."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse

from services.mock_platforms.json_bodies import read_model
from services.mock_platforms.platform_errors import PlatformHTTPError, not_found, rejected_name
from services.mock_platforms.platforms import Platform
from services.mock_platforms.state import MockState, Segment
from services.mock_platforms.wire_types import CurrencyCode, ExternalId, Price, SegmentName

PLATFORM = Platform.LIVERAMP


class Pricing(BaseModel):
    model_config = ConfigDict(extra="ignore")

    cpm: Price
    currency: CurrencyCode


class SegmentCreate(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    name: SegmentName
    description: str = ""
    data_source_location: str = Field(default="", alias="dataSourceLocation")
    pricing: Pricing
    client_reference: ExternalId | None = Field(default=None, alias="clientReference")


class SegmentPatch(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: SegmentName | None = None
    description: str | None = None
    pricing: Pricing | None = None
    status: Literal["ACTIVE", "DISABLED"] | None = None


def build_liveramp_router(state: MockState) -> APIRouter:
    router = APIRouter(prefix="/liveramp/v1", tags=["liveramp"])

    def authorize(request: Request) -> str:
        """The caller's LiveRamp org id, once its token and org header check out."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        grant = state.liveramp.tokens.get(token) if scheme.lower() == "bearer" else None
        if grant is None or grant.expires_at <= state.clock():
            body = {"error": "invalid_token", "message": "the access token is missing, unknown or expired"}
            raise PlatformHTTPError(401, body, {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        org_id = request.headers.get("lr-org-id", "")
        if not org_id or (grant.org_id is not None and grant.org_id != org_id):
            raise PlatformHTTPError(
                403, {"error": "forbidden", "message": "LR-Org-Id is missing or not yours"}
            )
        return org_id

    def held(segment_id: str, org_id: str) -> Segment:
        segment = state.liveramp.segments.get(segment_id)
        if segment is None or state.liveramp.org_of_segment[segment_id] != org_id:
            raise not_found(PLATFORM, f"segment {segment_id}")
        return segment

    @router.post("/segments")
    async def create_segment(request: Request) -> Response:
        org_id = authorize(request)
        body = await read_model(request, SegmentCreate, PLATFORM)
        platform = state.platforms[PLATFORM]
        if platform.faults.rejects(body.name):
            raise rejected_name(PLATFORM, body.name, "name")
        store = state.liveramp
        platform.stats.record_create(body.client_reference or f"name:{body.name}")
        reference = (org_id, body.client_reference) if body.client_reference else None
        if reference and (existing := store.by_client_reference.get(reference)):
            return JSONResponse(store.segments[existing], 200)
        segment_id = str(store.next_id)
        store.next_id += 1
        segment: Segment = {
            "id": segment_id,
            "name": body.name,
            "description": body.description,
            "status": "ACTIVE",
            "pricing": body.pricing.model_dump(),
        }
        store.segments[segment_id] = segment
        store.org_of_segment[segment_id] = org_id
        if reference:
            store.by_client_reference[reference] = segment_id
        platform.stats.writes += 1
        return JSONResponse(segment, 201)

    @router.patch("/segments/{segment_id}")
    async def modify_segment(segment_id: str, request: Request) -> Response:
        org_id = authorize(request)
        segment = held(segment_id, org_id)
        patch = await read_model(request, SegmentPatch, PLATFORM)
        platform = state.platforms[PLATFORM]
        if patch.name is not None and platform.faults.rejects(patch.name):
            raise rejected_name(PLATFORM, patch.name, "name")
        changes = patch.model_dump(exclude_none=True)
        segment.update(changes)
        platform.stats.writes += 1
        return JSONResponse(segment)

    @router.get("/segments/{segment_id}")
    async def get_segment(segment_id: str, request: Request) -> Response:
        segment = held(segment_id, authorize(request))
        return JSONResponse({"id": segment["id"], "name": segment["name"], "status": segment["status"]})

    return router
