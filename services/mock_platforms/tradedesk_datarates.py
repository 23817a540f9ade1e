"""The Trade Desk fake's data-rate batches (`/ttd/v3/datarate/batch`): processed, then approved or failed; the
status answer lists the batch's rates back, as TTD's does."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Request, Response
from starlette.responses import JSONResponse

from services.mock_platforms.json_bodies import read_model
from services.mock_platforms.platform_errors import invalid_request, not_found
from services.mock_platforms.platforms import Platform
from services.mock_platforms.state import DataRateBatch, MockState
from services.mock_platforms.tradedesk_auth import authorize, authorize_provider
from services.mock_platforms.tradedesk_models import DataRate, DataRateBatchRequest
from services.mock_platforms.tradedesk_quota import quota_dependency

PLATFORM = Platform.TRADEDESK
# Rates under these need TTD's approval (Amperity's TTD Data Marketplace guide).
_APPROVAL_CPM_BELOW = 5.0
_APPROVAL_MEDIA_COST_BELOW = 0.10


def _needs_approval(rate: DataRate) -> bool:
    cpm = rate.CPMRate.Amount if rate.CPMRate is not None and rate.RateType == "CPM" else None
    media_cost = rate.PercentOfMediaCostRate if rate.RateType != "CPM" else None
    return (cpm is not None and cpm < _APPROVAL_CPM_BELOW) or (
        media_cost is not None and media_cost < _APPROVAL_MEDIA_COST_BELOW
    )


def build_tradedesk_datarate_router(state: MockState) -> APIRouter:
    router = APIRouter(
        prefix="/ttd/v3/datarate", tags=["tradedesk"], dependencies=[Depends(quota_dependency(state))]
    )

    @router.post("/batch")
    async def submit_rates(request: Request) -> Response:
        tenant = authorize(state, request)
        body = await read_model(request, DataRateBatchRequest, PLATFORM)
        store = state.tradedesk
        # A rate for an unknown element fails the batch when it is processed, as TTD reports it.
        errors: list[dict[str, str]] = []
        needs_approval = False
        for rate in body.DataRates:
            provider = rate.ProviderId or body.ProviderId
            if provider is None:
                raise invalid_request(PLATFORM, "ProviderId is required", "ProviderId")
            authorize_provider(tenant, provider)
            key = (provider, rate.ProviderElementId)
            if key not in store.elements:
                message = f"ProviderElementId {rate.ProviderElementId!r} does not exist"
                errors.append({"ProviderElementId": rate.ProviderElementId, "Message": message})
                continue
            store.rates[key] = rate.model_dump(exclude_none=True)
            needs_approval = needs_approval or _needs_approval(rate)
        batch = DataRateBatch(
            batch_id=uuid.uuid4().hex,
            submitted_at=state.clock(),
            errors=errors,
            needs_approval=needs_approval,
            rates=[rate.model_dump(exclude_none=True) for rate in body.DataRates],
        )
        store.batches[batch.batch_id] = batch
        state.platforms[PLATFORM].stats.writes += 1
        return JSONResponse({"BatchId": batch.batch_id})

    @router.get("/batch/{batch_id}")
    async def batch_status(batch_id: str, request: Request) -> Response:
        authorize(state, request)
        store = state.tradedesk
        batch = store.batches.get(batch_id)
        if batch is None:
            raise not_found(PLATFORM, f"BatchId {batch_id!r}")
        processing, approval = batch.status(state.clock(), store.processing_delay_s, store.approval_delay_s)
        errors = batch.errors if processing == "Failed" else []
        return JSONResponse(
            {
                "BatchId": batch.batch_id,
                "ProcessingStatus": processing,
                "ApprovalStatus": approval,
                "DataRates": batch.rates,
                "Errors": errors,
            }
        )

    return router
