"""Run history: the org's runs (all, or one connection's) newest first, and every item of a run."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse

from services.gateway.deps import OrgId, Pool
from services.gateway.page_cursor import cursor_problem, decode_cursor, encode_cursor
from services.gateway.problems import not_found
from services.gateway.run_documents import summary_document
from services.gateway.run_items import item_csv, item_page
from services.gateway.schemas import ItemOutcomeName, RunItemPage, RunPage
from shared.db import connections, run_history
from shared.db import runs as repo
from shared.db.pool import PgPool
from shared.runs.status import RunStatus

router = APIRouter(tags=["runs"])

Limit = Annotated[int, Query(ge=1, le=1000, description="Rows per page")]
Cursor = Annotated[str | None, Query(description="`nextCursor` of the previous page")]


def _utc(moment: datetime | None) -> datetime | None:
    # A time given without an offset is read as UTC, as every time the API answers is.
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def _filters(
    kind: Literal["push", "sync"] | None = None,
    status: Annotated[
        list[RunStatus] | None, Query(description="Repeat for several: `status=failed&status=partial`")
    ] = None,
    since: Annotated[datetime | None, Query(description="Runs created at or after (ISO 8601)")] = None,
    until: Annotated[datetime | None, Query(description="Runs created before (ISO 8601)")] = None,
    parent_run_id: Annotated[
        uuid.UUID | None, Query(alias="parentRunId", description="Retry runs of this run")
    ] = None,
) -> run_history.RunFilters:
    return run_history.RunFilters(
        kind=kind,
        statuses=tuple(status or ()),
        since=_utc(since),
        until=_utc(until),
        parent_run_id=parent_run_id,
    )


Filters = Annotated[run_history.RunFilters, Depends(_filters)]


async def _run_page(
    pool: PgPool, org_id: uuid.UUID, filters: run_history.RunFilters, limit: int, cursor: str | None
) -> RunPage:
    after = None
    if cursor is not None:
        position = decode_cursor(cursor, frozenset({"createdAt", "id"}))
        try:
            after = run_history.RunKey(
                datetime.fromisoformat(position["createdAt"]), uuid.UUID(position["id"])
            )
        except (TypeError, ValueError) as exc:
            raise cursor_problem() from exc
    runs = await run_history.list_runs(pool, org_id, filters, after=after, limit=limit + 1)
    page = runs[:limit]
    next_cursor = (
        encode_cursor({"createdAt": page[-1].created_at.isoformat(), "id": str(page[-1].id)})
        if len(runs) > limit
        else None
    )
    return RunPage(items=[summary_document(run) for run in page], next_cursor=next_cursor)


@router.get("/api/runs")
async def list_runs(
    org_id: OrgId,
    pool: Pool,
    filters: Filters,
    connection_id: Annotated[uuid.UUID | None, Query(alias="connectionId")] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> RunPage:
    """The org's runs, newest first; filters combine. Pass `nextCursor` back as `cursor` for the next page."""
    filters = dataclasses.replace(filters, connection_id=connection_id)
    return await _run_page(pool, org_id, filters, limit, cursor)


@router.get("/api/connections/{connection_id}/runs")
async def list_connection_runs(
    connection_id: uuid.UUID,
    org_id: OrgId,
    pool: Pool,
    filters: Filters,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> RunPage:
    """The connection's runs, newest first, filtered and paged as `GET /api/runs`."""
    if await connections.get_connection(pool, org_id, connection_id) is None:
        raise not_found("connection")
    filters = dataclasses.replace(filters, connection_id=connection_id)
    return await _run_page(pool, org_id, filters, limit, cursor)


@router.get(
    "/api/runs/{run_id}/items",
    response_model=RunItemPage,
    responses={
        200: {"content": {"text/csv": {}}, "description": "JSON pages, or with `Accept: text/csv` every item"}
    },
)
async def list_run_items(
    run_id: uuid.UUID,
    request: Request,
    org_id: OrgId,
    pool: Pool,
    outcome: Annotated[
        list[ItemOutcomeName] | None,
        Query(description="Repeat for several: `outcome=failed&outcome=skipped`"),
    ] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> RunItemPage | Response:
    """Every item's result in the run, in item order; `Accept: text/csv` streams all of them (from `cursor`)."""
    run = await repo.get_run(pool, org_id, run_id)
    if run is None:
        raise not_found("run")
    outcomes = list(outcome or ())
    after = decode_cursor(cursor, frozenset({"after"}))["after"] if cursor is not None else None
    # Items continue after an item id; a sync run's rejects, listed after its records, after a row number.
    if after is not None and type(after) not in ((str, int) if run.kind == "sync" else (str,)):
        raise cursor_problem()
    if "text/csv" in request.headers.get("accept", ""):
        return StreamingResponse(
            item_csv(pool, run, outcomes, after=after),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="run-{run.id}-items.csv"'},
        )
    page = await item_page(pool, run, outcomes, after=after, limit=limit)
    next_cursor = encode_cursor({"after": page.after}) if page.after is not None else None
    return RunItemPage(items=page.items, next_cursor=next_cursor)
