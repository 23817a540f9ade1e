"""The Trade Desk fake's data-rate batches (`/ttd/v3/datarate/batch`): Pending, then Processed or Failed."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response
from starlette.responses import JSONResponse

from services.mock_platforms.json_bodies import read_model
from services.mock_platforms.platform_errors import not_found
from services.mock_platforms.platforms import Platform
from services.mock_platforms.state import DataRateBatch, MockState
from services.mock_platforms.tradedesk_auth import authorize, authorize_provider
from services.mock_platforms.tradedesk_models import DataRateBatchRequest

PLATFORM = Platform.TRADEDESK


def build_tradedesk_datarate_router(state: MockState) -> APIRouter:
    router = APIRouter(prefix="/ttd/v3/datarate", tags=["tradedesk"])

    @router.post("/batch")
    async def submit_rates(request: Request) -> Response:
        tenant = authorize(state, request)
        body = await read_model(request, DataRateBatchRequest, PLATFORM)
        store = state.tradedesk
        # A rate for an unknown element fails the batch when it is processed, as TTD reports it.
        errors: list[dict[str, str]] = []
        for rate in body.DataRates:
            authorize_provider(tenant, rate.ProviderId)
            key = (rate.ProviderId, rate.ProviderElementId)
            if key not in store.elements:
                message = f"ProviderElementId {rate.ProviderElementId!r} does not exist"
                errors.append({"ProviderElementId": rate.ProviderElementId, "Message": message})
                continue
            store.rates[key] = rate.model_dump(exclude_none=True)
        batch = DataRateBatch(batch_id=uuid.uuid4().hex, submitted_at=state.clock(), errors=errors)
        store.batches[batch.batch_id] = batch
        state.platforms[PLATFORM].stats.writes += 1
        return JSONResponse({"BatchId": batch.batch_id, "Status": "Pending"})

    @router.get("/batch/{batch_id}")
    async def batch_status(batch_id: str, request: Request) -> Response:
        authorize(state, request)
        batch = state.tradedesk.batches.get(batch_id)
        if batch is None:
            raise not_found(PLATFORM, f"BatchId {batch_id!r}")
        status = batch.status(state.clock(), state.tradedesk.processing_delay_s)
        errors = batch.errors if status == "Failed" else []
        return JSONResponse({"BatchId": batch.batch_id, "Status": status, "Errors": errors})

    return router
