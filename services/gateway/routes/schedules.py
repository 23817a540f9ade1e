"""/api/connections/{id}/schedules: a connection's push and sync schedules, and when each runs next."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi import APIRouter, Response

from services.gateway.deps import OrgId, Pool
from services.gateway.problems import Problem, not_found
from services.gateway.schemas import ScheduleInput, ScheduleKindName, ScheduleOut
from shared.db import schedules as repo
from shared.db.connections import get_connection
from shared.runs.schedules import Cadence, InvalidCadence

router = APIRouter(prefix="/api/connections/{connection_id}/schedules", tags=["schedules"])

_DIRECTIONS = {
    "push": ("outbound", "bidirectional"),
    "sync": ("inbound", "bidirectional"),
    "reconcile": ("outbound", "bidirectional"),
}


def _out(schedule: repo.Schedule) -> ScheduleOut:
    out = ScheduleOut.model_validate(schedule, from_attributes=True)
    return out if schedule.enabled else out.model_copy(update={"next_run_at": None})


def _invalid(field: str, message: str) -> Problem:
    return Problem(
        422, "Validation failed", f"{field}: {message}", errors=[{"field": field, "message": message}]
    )


async def _connection_direction(pool: Pool, org_id: uuid.UUID, connection_id: uuid.UUID) -> str:
    connection = await get_connection(pool, org_id, connection_id)
    if connection is None:
        raise not_found("connection")
    return connection.direction


@router.get("")
async def list_schedules(connection_id: uuid.UUID, org_id: OrgId, pool: Pool) -> list[ScheduleOut]:
    """The connection's schedules (push, sync), each with its next slot (`nextRunAt`)."""
    await _connection_direction(pool, org_id, connection_id)
    return [_out(schedule) for schedule in await repo.list_schedules(pool, org_id, connection_id)]


@router.get("/{kind}")
async def get_schedule(
    connection_id: uuid.UUID, kind: ScheduleKindName, org_id: OrgId, pool: Pool
) -> ScheduleOut:
    """The connection's schedule of `kind`; 404 when it has none."""
    schedule = await repo.get_schedule(pool, org_id, connection_id, kind)
    if schedule is None:
        raise not_found("schedule")
    return _out(schedule)


@router.put("/{kind}")
async def put_schedule(
    connection_id: uuid.UUID, kind: ScheduleKindName, body: ScheduleInput, org_id: OrgId, pool: Pool
) -> ScheduleOut:
    """Create or replace the schedule of `kind`: its slots start afresh from now (none is run at once)."""
    direction = await _connection_direction(pool, org_id, connection_id)
    if direction not in _DIRECTIONS[kind]:
        raise _invalid("path.kind", f"a {direction} connection cannot be scheduled to {kind}")
    cadence = Cadence(every_minutes=body.every_minutes, cron=body.cron, time_zone=body.time_zone)
    try:
        cadence.check()
    except InvalidCadence as exc:
        raise _invalid(f"body.{exc.field}", exc.message) from exc
    saved = await repo.put_schedule(
        pool,
        org_id,
        connection_id,
        kind,
        cadence,
        enabled=body.enabled,
        next_run_at=cadence.next_slot(datetime.now(UTC)),
    )
    if saved is None:  # deleted meanwhile
        raise not_found("connection")
    return _out(saved)


@router.delete("/{kind}", status_code=204)
async def delete_schedule(
    connection_id: uuid.UUID, kind: ScheduleKindName, org_id: OrgId, pool: Pool
) -> Response:
    """Remove the schedule of `kind`; a run it started goes on."""
    if not await repo.delete_schedule(pool, org_id, connection_id, kind):
        raise not_found("schedule")
    return Response(status_code=204)
