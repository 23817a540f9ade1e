"""The LiveRamp fake's segment API (`/liveramp/v1`): bearer token from its OAuth2 endpoint plus `LR-Org-Id`."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
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


SegmentType = Literal["SYNDICATED", "CUSTOM", "DIRECT"]
UseCase = Literal[
    "DIGITAL_AD_TARGETING",
    "TV_TARGETING",
    "AUDIENCE_EXTENSION",
    "CAMPAIGN_ANALYTICS",
    "MEASUREMENT_ENABLEMENT",
]
# Use cases billed at a CPM; the others are flat-fee licences or unpriced (docs.liveramp.com permitted use cases).
_CPM_PRICED = ("DIGITAL_AD_TARGETING", "TV_TARGETING")
_TAKE_ALLOWED_PLATFORMS = ("CUSTOM", "DIRECT")
PlatformName = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]


class UseCasePrice(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    use_case: UseCase = Field(alias="useCase")
    cpm: Price


class Pricing(BaseModel):
    model_config = ConfigDict(extra="ignore")

    currency: CurrencyCode
    prices: list[UseCasePrice] = []


class Restrictions(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    permitted_use_cases: list[UseCase] | None = Field(default=None, alias="permittedUseCases")


class SegmentCreate(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    activation_segment_id: ExternalId = Field(alias="activationSegmentId")
    name: SegmentName
    type: SegmentType
    description: str = ""
    data_source_location: str | None = Field(default=None, alias="dataSourceLocation")
    allowed_platforms: list[PlatformName] | None = Field(default=None, alias="allowedPlatforms")
    restrictions: Restrictions | None = None
    pricing: Pricing | None = None


class SegmentPatch(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    # Documented as not updatable; named here only to refuse a change.
    segment_id: int | None = Field(default=None, alias="segmentId")
    activation_segment_id: str | None = Field(default=None, alias="activationSegmentId")
    name: SegmentName | None = None
    type: SegmentType | None = None
    description: str | None = None
    data_source_location: str | None = Field(default=None, alias="dataSourceLocation")
    allowed_platforms: list[PlatformName] | None = Field(default=None, alias="allowedPlatforms")
    restrictions: Restrictions | None = None
    pricing: Pricing | None = None
    status: Literal["ACTIVE", "DISABLED"] | None = None


def _check_terms(segment: Segment) -> None:
    """The documented combinations of type, allowed platforms, use cases and their prices."""
    if segment["type"] in _TAKE_ALLOWED_PLATFORMS and not segment.get("allowedPlatforms"):
        raise invalid_request(PLATFORM, f"allowedPlatforms is required for {segment['type']} segments")
    if segment["type"] not in _TAKE_ALLOWED_PLATFORMS and "allowedPlatforms" in segment:
        raise invalid_request(PLATFORM, "allowedPlatforms must not be used for SYNDICATED segments")
    use_cases = segment.get("restrictions", {}).get("permittedUseCases") or []
    if not use_cases:
        raise invalid_request(PLATFORM, "restrictions.permittedUseCases: at least one use case is required")
    if len(set(use_cases)) != len(use_cases):
        raise invalid_request(PLATFORM, "restrictions.permittedUseCases: a use case is named twice")
    if segment.get("pricing") is None:
        raise invalid_request(PLATFORM, "pricing is required")
    priced = [price["useCase"] for price in segment["pricing"]["prices"]]
    if len(set(priced)) != len(priced):
        raise invalid_request(PLATFORM, "pricing.prices: a use case is priced twice")
    for use_case in _CPM_PRICED:
        if use_case in use_cases and use_case not in priced:
            raise invalid_request(PLATFORM, f"pricing.prices: permitted use case {use_case} needs a price")
    for use_case in priced:
        if use_case not in use_cases:
            raise invalid_request(PLATFORM, f"pricing.prices: {use_case} is not a permitted use case")
        if use_case not in _CPM_PRICED:
            raise invalid_request(PLATFORM, f"pricing.prices: {use_case} has no CPM price")


def _price_list(segment: Segment) -> tuple[str, list[tuple[str, float]]]:
    pricing = segment["pricing"]
    return pricing["currency"], sorted((price["useCase"], price["cpm"]) for price in pricing["prices"])


def _new_segment(segment_id: int, body: SegmentCreate) -> Segment:
    segment: Segment = {
        "id": segment_id,
        **body.model_dump(by_alias=True, exclude_none=True, exclude={"allowed_platforms"}),
        # Every new segment goes through LiveRamp's privacy review before it is sold.
        "status": "IN_REVIEW",
        "distributed": False,
    }
    if body.allowed_platforms is not None:
        segment["allowedPlatforms"] = body.allowed_platforms
    return segment


def _modified(segment: Segment, patch: SegmentPatch) -> Segment:
    """The segment with the patch applied, refused when it touches what LiveRamp does not let change."""
    if patch.segment_id is not None and patch.segment_id != segment["id"]:
        raise invalid_request(PLATFORM, "segmentId cannot be updated")
    if patch.activation_segment_id not in (None, segment["activationSegmentId"]):
        raise invalid_request(PLATFORM, "activationSegmentId cannot be updated")
    changes = patch.model_dump(
        by_alias=True, exclude_none=True, exclude={"segment_id", "activation_segment_id"}
    )
    updated = {**segment, **changes}
    if patch.type == "SYNDICATED" and patch.allowed_platforms is None:
        updated.pop("allowedPlatforms", None)  # the documented rule: a syndicated segment has none
    _check_terms(updated)
    if segment["distributed"] and _price_list(updated) != _price_list(segment):
        raise PlatformHTTPError(
            409,
            {
                "error": "conflict",
                "message": f"segment {segment['id']} has been distributed: its prices and currency cannot change",
            },
        )
    return updated


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
        # The fake's stand-in for a buyer's first distribution: a reviewed segment counts as distributed.
        segment["status"] = "ACTIVE"
        segment["distributed"] = True
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
        segment = _new_segment(store.next_id, body)
        _check_terms(segment)
        # No idempotency key is documented: every create is a new segment, counted by name.
        platform.stats.record_create(f"name:{body.name}")
        segment_id = str(store.next_id)
        store.next_id += 1
        store.segments[segment_id] = segment
        store.org_of_segment[segment_id] = org_id
        store.created_at[segment_id] = state.clock()
        _reviewed(state, segment_id, segment)
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
        updated = _modified(segment, patch)
        segment.clear()
        segment.update(updated)
        platform.stats.writes += 1
        return JSONResponse(segment)

    @router.get("/segments/{segment_id}")
    async def get_segment(segment_id: str, request: Request) -> Response:
        segment = _held(state, segment_id, _authorize(state, request))
        return JSONResponse(segment)

    return router
