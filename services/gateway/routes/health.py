"""Liveness, readiness (Postgres reachable; Kafka reported) and Prometheus metrics."""

from __future__ import annotations

import asyncio
from typing import Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from services.gateway.deps import Broker, Pool
from services.gateway.pending_work import refresh_pending_work

router = APIRouter(tags=["operations"])


class Readiness(BaseModel):
    """What /readyz found: `ready`, `degraded` (Kafka away: 200 all the same) or `not ready` (503)."""

    status: Literal["ready", "degraded", "not ready"]
    checks: dict[str, str] = Field(
        description="Per dependency (`postgres`, `kafka`): `ok`, `unreachable` or the error's class name.",
        examples=[{"postgres": "ok", "kafka": "ok"}],
    )


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={
        200: {"description": "Postgres answers: the replica takes traffic (Kafka reported in `checks`)"},
        503: {
            "model": Readiness,
            "description": "Postgres does not answer: take the replica out of rotation",
        },
    },
)
async def readyz(pool: Pool, broker: Broker) -> JSONResponse:
    """200 when Postgres answers (`degraded` while Kafka does not); 503 without Postgres.

    Kafka is reported, not required: every endpoint works on Postgres alone, and runs requested while
    Kafka is away wait in the outbox (activator_outbox_lag) until it is back. Taking every replica out
    of rotation for a Kafka outage would turn a delay into an API outage.
    """
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
    ready = checks["postgres"] == "ok"
    status = ("ready" if checks["kafka"] == "ok" else "degraded") if ready else "not ready"
    return JSONResponse({"status": status, "checks": checks}, status_code=200 if ready else 503)


@router.get("/metrics", include_in_schema=False)
async def metrics(_request: Request, pool: Pool) -> Response:
    """Prometheus exposition of this process's metrics; the open run work is queried now."""
    await refresh_pending_work(pool)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
