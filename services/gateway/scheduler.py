"""The scheduler loop: beside the outbox relay, every gateway replica starts the runs of due schedule slots.

Any number of replicas may run it. Each round claims due schedules (`FOR UPDATE SKIP LOCKED`, then a
claim of SCHEDULER_CLAIM_TTL_S), starts each slot's run through `start_run` with the idempotency key
of (schedule, slot), and moves the schedule to its next slot. The key makes a slot's run unique even
when a claim lapses (a replica died between starting the run and moving the schedule on): the next
replica finds the run instead of starting another.

Missed slots: a schedule's `next_run_at` is the oldest slot not yet started, and after it the next slot
is computed from now, so slots missed while every replica was down start one run, not one each.
Overlap: a slot that comes while the schedule's previous run is still open starts nothing (no pile-up
behind a slow run); a refused start (a disabled connection) is recorded on the schedule as well.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import structlog
from prometheus_client import Counter

from services.gateway.rounds import Rounds
from shared.db import schedules as repo
from shared.db.pool import POSTGRES_UNAVAILABLE, PgPool
from shared.runs.schedules import slot_idempotency_key
from shared.runs.start import PushSpec, RunRefused, SyncSpec, start_run
from shared.settings import Settings

log = structlog.get_logger(__name__)

SLOTS = Counter(
    "activator_schedule_slots_total",
    "Schedule slots handled, by run kind and outcome (started | skipped | refused)",
    ["kind", "outcome"],
)

_SPECS: dict[str, PushSpec | SyncSpec] = {
    "push": PushSpec(),
    "sync": SyncSpec(),
    # A scheduled reconcile reports drift (a dry run); repairing it is a person's call (POST .../reconcile).
    "reconcile": PushSpec(dry_run=True, reconcile=True),
}

CLAIM_BATCH = 50
"""Schedules one round claims at a time; a round claims again until fewer are due."""

Clock = Callable[[], datetime]

SlotOutcomeName = Literal["started", "skipped", "refused"]


def utc_now() -> datetime:
    """The wall clock, aware, in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class SlotOutcome:
    """What one slot of a schedule did: the run it started (or found), or why it started none."""

    schedule: repo.Schedule
    slot: datetime
    outcome: SlotOutcomeName
    run_id: uuid.UUID | None
    error: str | None
    next_run_at: datetime


class Scheduler(Rounds):
    """Starts the runs of due schedule slots every `scheduler_poll_interval_s`; `clock` is swappable in tests."""

    failed_event = "scheduler_round_failed"
    with_error = True

    def __init__(self, pool: PgPool, settings: Settings, *, clock: Clock = utc_now) -> None:
        super().__init__(pool, settings)
        self._clock = clock

    async def round(self) -> list[SlotOutcome]:
        """One round: every schedule due now (by this scheduler's clock) starts its slot."""
        outcomes: list[SlotOutcome] = []
        while True:
            now = self._clock()
            claimed = await repo.claim_due(
                self._pool,
                now=now,
                claim_until=now + timedelta(seconds=self._settings.scheduler_claim_ttl_s),
                limit=CLAIM_BATCH,
            )
            for schedule in claimed:
                outcome = await self._start_slot(schedule, now)
                if outcome is not None:
                    outcomes.append(outcome)
            if len(claimed) < CLAIM_BATCH:
                return outcomes

    async def _start_slot(self, schedule: repo.Schedule, now: datetime) -> SlotOutcome | None:
        slot = schedule.next_run_at
        bound = log.bind(
            schedule_id=str(schedule.id), connection_id=str(schedule.connection_id), slot=str(slot)
        )
        try:
            outcome, run_id, error = await self._run_for_slot(schedule, slot)
        except POSTGRES_UNAVAILABLE:
            raise  # an outage: the claim lapses and a later round (on any replica) tries the slot again
        except Exception:
            # A bug must not stop the other schedules; the claim lapses and the slot is tried again then.
            bound.exception("schedule_slot_failed")
            return None
        next_run_at = schedule.cadence.next_slot(max(now, slot))
        await repo.advance(
            self._pool, schedule.id, slot=slot, next_run_at=next_run_at, run_id=run_id, error=error
        )
        SLOTS.labels(schedule.kind, outcome).inc()
        bound.info("schedule_slot", outcome=outcome, run_id=str(run_id) if run_id else None, error=error)
        return SlotOutcome(schedule, slot, outcome, run_id, error, next_run_at)

    async def _run_for_slot(
        self, schedule: repo.Schedule, slot: datetime
    ) -> tuple[SlotOutcomeName, uuid.UUID | None, str | None]:
        key = slot_idempotency_key(schedule.id, slot)
        # A replica that died after starting this slot's run: that run is the slot's, start no other.
        earlier = await repo.slot_run_id(self._pool, schedule.org_id, key)
        if earlier is not None:
            return "started", earlier, None
        if await repo.run_is_open(self._pool, schedule.last_run_id):
            return "skipped", None, f"skipped: the previous run {schedule.last_run_id} has not finished"
        spec = _SPECS[schedule.kind]
        try:
            started = await start_run(
                self._pool,
                self._settings,
                org_id=schedule.org_id,
                connection_id=schedule.connection_id,
                spec=spec,
                idempotency_key=key,
            )
        except RunRefused as exc:
            return "refused", None, f"refused ({exc.code.value}): {exc.detail}"
        return "started", started.run.id, None
