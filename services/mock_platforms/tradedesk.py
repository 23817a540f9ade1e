"""The Trade Desk fake's third-party data elements (`/ttd/v3/thirdpartydata`)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from starlette.responses import JSONResponse

from services.mock_platforms.json_bodies import read_model
from services.mock_platforms.platform_errors import PlatformHTTPError, invalid_request, rejected_name
from services.mock_platforms.platforms import Platform
from services.mock_platforms.state import MockState, Segment
from services.mock_platforms.tradedesk_auth import authorize, authorize_provider, mint_token
from services.mock_platforms.tradedesk_models import ThirdPartyData, ThirdPartyDataQuery
from services.mock_platforms.tradedesk_quota import quota_dependency

PLATFORM = Platform.TRADEDESK
# Every provider's taxonomy starts at this element, which TTD creates for it.
ROOT = "ROOT"


def _already_exists(element_id: str) -> PlatformHTTPError:
    reason = f"An element with ProviderElementId {element_id!r} already exists for this provider."
    details = [{"Property": "ProviderElementId", "Reasons": [reason]}]
    return PlatformHTTPError(400, {"Message": "ProviderElementId already exists", "ErrorDetails": details})


def _not_visible(element_id: str) -> PlatformHTTPError:
    # TTD's return codes: 403 when the entity does not exist or this login cannot see it.
    return PlatformHTTPError(403, {"Message": f"Element {element_id!r} does not exist or is not accessible."})


async def _read_element(state: MockState, request: Request) -> ThirdPartyData:
    tenant = authorize(state, request)
    body = await read_model(request, ThirdPartyData, PLATFORM)
    authorize_provider(tenant, body.ProviderId)
    if state.platforms[PLATFORM].faults.rejects(body.DisplayName):
        raise rejected_name(PLATFORM, body.DisplayName, "DisplayName")
    return body


def build_tradedesk_router(state: MockState) -> APIRouter:
    router = APIRouter(prefix="/ttd/v3", tags=["tradedesk"], dependencies=[Depends(quota_dependency(state))])

    @router.post("/authentication")
    async def authenticate(request: Request) -> Response:
        return await mint_token(state, request)

    @router.post("/thirdpartydata")
    async def create_element(request: Request) -> Response:
        body = await _read_element(state, request)
        stats = state.platforms[PLATFORM].stats
        stats.record_create(body.ProviderElementId)
        store = state.tradedesk
        key = (body.ProviderId, body.ProviderElementId)
        if key in store.elements:
            raise _already_exists(body.ProviderElementId)
        if body.ParentElementId != ROOT and (body.ProviderId, body.ParentElementId) not in store.elements:
            raise invalid_request(
                PLATFORM, f"ParentElementId {body.ParentElementId!r} does not exist", "ParentElementId"
            )
        element: Segment = body.model_dump()
        store.elements[key] = element
        store.element_order.setdefault(body.ProviderId, []).append(body.ProviderElementId)
        stats.writes += 1
        return JSONResponse(element)

    @router.put("/thirdpartydata")
    async def update_element(request: Request) -> Response:
        body = await _read_element(state, request)
        element = state.tradedesk.elements.get((body.ProviderId, body.ProviderElementId))
        if element is None:
            raise _not_visible(body.ProviderElementId)
        if body.ParentElementId != element["ParentElementId"]:
            # ProviderElementId and ParentElementId cannot change once the element exists.
            raise invalid_request(PLATFORM, "ParentElementId cannot be changed", "ParentElementId")
        element.update(body.model_dump())
        state.platforms[PLATFORM].stats.writes += 1
        return JSONResponse(element)

    @router.post("/thirdpartydata/query")
    async def query_elements(request: Request) -> Response:
        tenant = authorize(state, request)
        query = await read_model(request, ThirdPartyDataQuery, PLATFORM)
        authorize_provider(tenant, query.ProviderId)
        store = state.tradedesk
        start, end = query.PageStartIndex, query.PageStartIndex + query.PageSize
        if query.ProviderElementId is not None:
            found = store.elements.get((query.ProviderId, query.ProviderElementId))
            matching = [found] if found is not None else []
            return JSONResponse({"Result": matching[start:end], "ResultCount": len(matching)})
        order = store.element_order.get(query.ProviderId, [])
        page = [store.elements[(query.ProviderId, element_id)] for element_id in order[start:end]]
        return JSONResponse({"Result": page, "ResultCount": len(order)})

    return router
