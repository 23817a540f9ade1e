"""Liveness, readiness (Postgres and Kafka reachable) and Prometheus metrics."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.gateway.deps import Broker, Pool

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(pool: Pool, broker: Broker) -> JSONResponse:
    """200 only when both Postgres and Kafka answer."""
    checks: dict[str, str] = {}
    try:
        await asyncio.wait_for(pool.fetchval("SELECT 1"), timeout=2)
        checks["postgres"] = "ok"
    except (OSError, TimeoutError, Exception) as exc:
        checks["postgres"] = type(exc).__name__
    try:
        checks["kafka"] = "ok" if await asyncio.wait_for(broker.ping(timeout=2), timeout=3) else "unreachable"
    except (OSError, TimeoutError, Exception) as exc:
        checks["kafka"] = type(exc).__name__
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503
    )


@router.get("/metrics", include_in_schema=False)
async def metrics(_request: Request) -> Response:
    """Prometheus exposition of this process's metrics."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
