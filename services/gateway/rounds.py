"""The gateway's periodic loops (run supervisor, retention, scheduler, automatic retries): a round every
interval until cancelled, any number of replicas at once; a Postgres outage only skips a round."""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Awaitable, Callable
from typing import ClassVar

import structlog

from shared.db.pool import POSTGRES_UNAVAILABLE, PgPool
from shared.settings import Settings

log = structlog.get_logger(__name__)


async def every(
    interval_s: float, round_: Callable[[], Awaitable[object]], *, failed_event: str, with_error: bool = False
) -> None:
    """Run `round_` every `interval_s` until cancelled; an outage is logged as `failed_event` (with the
    error's text when `with_error`) and the next round tries again."""
    while True:
        try:
            await round_()
        except POSTGRES_UNAVAILABLE as exc:
            error = {"error": str(exc)[:200]} if with_error else {}
            log.warning(failed_event, error_type=type(exc).__name__, **error)
        await asyncio.sleep(interval_s)


class Rounds(abc.ABC):
    """A periodic loop of the gateway over the pool and the settings: `round()` is one round, `run` repeats it."""

    failed_event: ClassVar[str]
    """What a round cut short by a Postgres outage logs."""
    with_error: ClassVar[bool] = False
    """Whether that log line carries the error's text."""

    def __init__(self, pool: PgPool, settings: Settings) -> None:
        self._pool = pool
        self._settings = settings

    @abc.abstractmethod
    async def round(self) -> object:
        """One round; what it did (tests and logs read it)."""

    async def run(self, interval_s: float) -> None:
        """A round every `interval_s` until cancelled; a Postgres outage only skips a round."""
        await every(interval_s, self.round, failed_event=self.failed_event, with_error=self.with_error)
