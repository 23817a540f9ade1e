"""The LiveRamp fake's segment API (`/liveramp/v1`): bearer token from its OAuth2 endpoint plus `LR-Org-Id`."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse

from services.mock_platforms.json_bodies import read_model
from services.mock_platforms.platform_errors import (
    PlatformHTTPError,
    invalid_request,
    not_found,
    rejected_name,
)
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


def _authorize(state: MockState, request: Request) -> str:
    """The caller's LiveRamp org id, once its token and org header check out."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    grant = state.liveramp.tokens.get(token) if scheme.lower() == "bearer" else None
    if grant is None:
        body = {"error": "invalid_token", "message": "the access token is missing or unknown"}
        raise PlatformHTTPError(401, body, {"WWW-Authenticate": 'Bearer error="invalid_token"'})
    if grant.expires_at <= state.clock():
        # LiveRamp documents 403 as the answer to an expired token.
        body = {"error": "invalid_token", "message": "the access token has expired"}
        raise PlatformHTTPError(403, body, {"WWW-Authenticate": 'Bearer error="invalid_token"'})
    org_id = request.headers.get("lr-org-id", "")
    if not org_id or (grant.org_id is not None and grant.org_id != org_id):
        raise PlatformHTTPError(403, {"error": "forbidden", "message": "LR-Org-Id is missing or not yours"})
    return org_id


def _held(state: MockState, segment_id: str, org_id: str) -> Segment:
    if not segment_id.isdigit():
        # Segment ids are integers (int32) in LiveRamp's paths.
        raise invalid_request(PLATFORM, f"segmentId must be an integer, got {segment_id!r}", "segmentId")
    segment = state.liveramp.segments.get(segment_id)
    if segment is None or state.liveramp.org_of_segment[segment_id] != org_id:
        raise not_found(PLATFORM, f"segment {segment_id}")
    return _reviewed(state, segment_id, segment)


def _reviewed(state: MockState, segment_id: str, segment: Segment) -> Segment:
    store = state.liveramp
    if (
        segment["status"] == "IN_REVIEW"
        and state.clock() - store.created_at[segment_id] >= store.review_delay_s
    ):
        segment["status"] = "ACTIVE"
    return segment


def build_liveramp_router(state: MockState) -> APIRouter:
    router = APIRouter(prefix="/liveramp/v1", tags=["liveramp"])

    @router.post("/segments")
    async def create_segment(request: Request) -> Response:
        org_id = _authorize(state, request)
        body = await read_model(request, SegmentCreate, PLATFORM)
        platform = state.platforms[PLATFORM]
        if platform.faults.rejects(body.name):
            raise rejected_name(PLATFORM, body.name, "name")
        store = state.liveramp
        platform.stats.record_create(body.client_reference or f"name:{body.name}")
        reference = (org_id, body.client_reference) if body.client_reference else None
        if reference and (existing := store.by_client_reference.get(reference)):
            return JSONResponse(_reviewed(state, existing, store.segments[existing]), 200)
        segment_id = str(store.next_id)
        store.next_id += 1
        segment: Segment = {
            "id": store.next_id - 1,
            "name": body.name,
            "description": body.description,
            # Every new segment goes through LiveRamp's privacy review before it is sold.
            "status": "IN_REVIEW",
            "pricing": body.pricing.model_dump(),
        }
        store.segments[segment_id] = segment
        store.org_of_segment[segment_id] = org_id
        store.created_at[segment_id] = state.clock()
        _reviewed(state, segment_id, segment)
        if reference:
            store.by_client_reference[reference] = segment_id
        platform.stats.writes += 1
        return JSONResponse(segment, 201)

    @router.patch("/segments/{segment_id}")
    async def modify_segment(segment_id: str, request: Request) -> Response:
        org_id = _authorize(state, request)
        segment = _held(state, segment_id, org_id)
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
        segment = _held(state, segment_id, _authorize(state, request))
        return JSONResponse({"id": segment["id"], "name": segment["name"], "status": segment["status"]})

    return router
