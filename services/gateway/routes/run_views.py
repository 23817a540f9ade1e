"""A run by its id alone: its status, its live events (SSE), and view tokens for the browser page."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import StreamingResponse

from services.gateway.deps import READ_SCOPE_OPERATION, AppSettings, OrgId, Pool, RunViewerOrgId
from services.gateway.problems import not_found
from services.gateway.run_documents import run_status
from services.gateway.run_stream import RunEventStream, StreamPosition
from services.gateway.schemas import RunStatusOut, RunViewTokenOut
from services.gateway.view_tokens import mint, token_secret
from shared.db import runs as repo

router = APIRouter(prefix="/api/runs/{run_id}", tags=["runs"])


async def _run(pool: Pool, org_id: uuid.UUID, run_id: uuid.UUID) -> repo.Run:
    run = await repo.get_run(pool, org_id, run_id)
    if run is None:
        raise not_found("run")
    return run


@router.get("")
async def get_run_status(
    run_id: uuid.UUID, org_id: RunViewerOrgId, pool: Pool, settings: AppSettings
) -> RunStatusOut:
    """Progress and outcome of a push or sync run, by run id alone."""
    return await run_status(pool, settings, await _run(pool, org_id, run_id))


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "`run`, `item_error` and `end` events"},
        204: {"description": "The run is final and the client has seen all of it (EventSource stops)"},
    },
)
async def run_events(
    run_id: uuid.UUID,
    request: Request,
    org_id: RunViewerOrgId,
    pool: Pool,
    settings: AppSettings,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=100)] = None,
) -> Response:
    """Server-Sent Events of the run's progress until it is final; resumable with Last-Event-ID.

    `run`: the status document (without `errors`, plus `outcomes` by item outcome for push runs),
    sent whenever it changes; `item_error`: each stored error record once; `end`: the final status.
    """
    run = await _run(pool, org_id, run_id)
    stream = RunEventStream(
        pool,
        org_id,
        run_id,
        poll_interval_s=settings.run_events_poll_interval_s,
        max_stream_s=settings.run_events_max_stream_s,
    )
    position = StreamPosition.parse(last_event_id)
    if await stream.nothing_new(run, position):
        return Response(status_code=204)
    return StreamingResponse(
        stream.frames(position, request.is_disconnected),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.post("/view-token", status_code=201, openapi_extra=READ_SCOPE_OPERATION)
async def create_view_token(
    run_id: uuid.UUID, org_id: OrgId, pool: Pool, settings: AppSettings
) -> RunViewTokenOut:
    """A short-lived token to watch this run in a browser (`url`), where no API key can be sent."""
    await _run(pool, org_id, run_id)
    expires = int(time.time()) + settings.run_view_token_ttl_s
    token = mint(token_secret(settings.require_encryption_key()), org_id, run_id, expires)
    return RunViewTokenOut(
        token=token,
        expires_at=datetime.fromtimestamp(expires, UTC),
        url=f"/ui/runs/{run_id}?token={token}",
    )
