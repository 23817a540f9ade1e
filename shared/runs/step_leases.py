"""Leases on one given run: a step run's batch or page, taken as soon as its connection's other runs let
it go (the rules are shared/runs/leases.py's)."""

from __future__ import annotations

import asyncio
import time
import uuid

from shared.db.pool import PgPool
from shared.runs import leases
from shared.runs.leases import Lease
from shared.runs.status import TERMINAL_STATUS_VALUES


async def claim_run(
    pool: PgPool, run_id: uuid.UUID, kind: str, ttl_s: float, *, holder: str | None = None
) -> Lease | None:
    """Lease one given run (a step run's batch or page) once no other run of its connection holds one."""
    async with pool.acquire() as connection, connection.transaction():
        row = await connection.fetchrow(
            f"""SELECT {leases.LEASED_COLUMNS} FROM runs
                WHERE id = $2 AND {leases.OPEN} AND (lease_expires_at IS NULL OR lease_expires_at < now())
                FOR UPDATE SKIP LOCKED""",
            TERMINAL_STATUS_VALUES,
            run_id,
        )
        return (
            None if row is None else await leases.take(connection, row, ttl_s, kind, step=True, holder=holder)
        )


class LeaseUnavailable(Exception):
    """A run's lease stayed taken (another run of its connection held one) for longer than waited."""


_TAKEN_POLL_S = 0.05


async def wait_for_run(
    pool: PgPool, run_id: uuid.UUID, kind: str, *, ttl_s: float, wait_s: float, holder: str | None = None
) -> Lease | None:
    """Lease one given run (a step run's batch or page) as soon as it may go; None once it is finished or
    gone; LeaseUnavailable (a retryable failure of the command) after `wait_s`."""
    deadline = time.monotonic() + wait_s
    while (lease := await claim_run(pool, run_id, kind, ttl_s, holder=holder)) is None:
        still_open = await pool.fetchval(
            f"SELECT {leases.OPEN} FROM runs WHERE id = $2", TERMINAL_STATUS_VALUES, run_id
        )
        if not still_open:
            return None
        if time.monotonic() > deadline:
            raise LeaseUnavailable(f"run {run_id}: its connection's lease stayed taken for {wait_s:g}s")
        await asyncio.sleep(_TAKEN_POLL_S)
    return lease
