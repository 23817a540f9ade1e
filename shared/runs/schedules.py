"""When a schedule's runs are due: its cadence (every N minutes, or cron in a time zone) and its slots.

Slots of `every N minutes` lie on multiples of N minutes since 1970-01-01T00:00Z (every 15 → :00, :15,
:30, :45 of each hour), so every replica computes the same ones; cron slots come from cronsim in the
schedule's zone (a slot in an hour that a DST change skips runs at the change, once).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

ScheduleKind = Literal["push", "sync", "reconcile"]  # reconcile: a drift report per slot

MAX_EVERY_MINUTES = 366 * 24 * 60
"""A year and a day: the longest interval a schedule may have."""


class InvalidCadence(ValueError):
    """A cadence that cannot be scheduled; `field` names the input at fault (`everyMinutes`, `cron`, ...)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class Cadence:
    """How often: exactly one of `every_minutes` and `cron`; `time_zone` is the zone cron is read in."""

    every_minutes: int | None = None
    cron: str | None = None
    time_zone: str = "UTC"

    def check(self) -> None:
        """Raise InvalidCadence unless this cadence has slots (the zone is known, the cron parses)."""
        if (self.every_minutes is None) == (self.cron is None):
            raise InvalidCadence("everyMinutes", "give exactly one of everyMinutes and cron")
        if self.every_minutes is not None and not 1 <= self.every_minutes <= MAX_EVERY_MINUTES:
            raise InvalidCadence("everyMinutes", f"must be between 1 and {MAX_EVERY_MINUTES}")
        zone = self.zone()
        if self.cron is not None:
            # Five fields: a slot a minute at most (cronsim would also read a sixth, seconds).
            if len(self.cron.split()) != 5:
                raise InvalidCadence("cron", "five fields: minute hour day-of-month month day-of-week")
            try:
                CronSim(self.cron, datetime.now(zone))
            except CronSimError as exc:
                raise InvalidCadence("cron", f"not a cron expression: {exc}") from None

    def zone(self) -> ZoneInfo:
        """The schedule's time zone; InvalidCadence for a name the IANA database does not know."""
        try:
            return ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidCadence("timeZone", f"unknown time zone {self.time_zone!r}") from None

    def next_slot(self, after: datetime) -> datetime:
        """The first slot strictly after `after` (an aware datetime), in UTC."""
        if self.every_minutes is not None:
            step = self.every_minutes * 60
            seconds = (int(after.timestamp()) // step + 1) * step
            return datetime.fromtimestamp(seconds, UTC)
        assert self.cron is not None
        slot: datetime = next(CronSim(self.cron, after.astimezone(self.zone())))
        return slot.astimezone(UTC)


def slot_idempotency_key(schedule_id: uuid.UUID, slot: datetime) -> str:
    """The run request key of a schedule's slot: a second start of the same slot names the first run."""
    return f"schedule:{schedule_id}:{slot.astimezone(UTC).isoformat()}"
