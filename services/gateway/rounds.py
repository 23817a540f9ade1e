"""The gateway's periodic loops (run supervisor, retention, scheduler, automatic retries): a round every
interval until cancelled, any number of replicas at once; a Postgres outage only skips a round."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

from shared.db.pool import POSTGRES_UNAVAILABLE

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
