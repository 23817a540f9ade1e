"""The retry policy every platform call shares: bounded attempts, exponential backoff, Retry-After."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

import structlog
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from shared.connectors.errors import PlatformError
from shared.metrics import PLATFORM_RETRIES

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]


class RetryLimits(Protocol):
    """What the retry policy reads of its caller's settings (HttpSettings has them, among its limits)."""

    @property
    def max_attempts(self) -> int: ...

    @property
    def backoff_base_s(self) -> float: ...

    @property
    def retry_after_cap_s(self) -> float: ...


log = structlog.get_logger(__name__)


def _is_transient(exc: BaseException) -> bool:
    return isinstance(exc, PlatformError) and exc.transient


def backoff_s(settings: RetryLimits, attempt_number: int, error: BaseException | None) -> float:
    """Wait before the next attempt: the platform's Retry-After (capped), else base * 2^(attempt-1)."""
    if isinstance(error, PlatformError) and error.retry_after is not None:
        return min(error.retry_after, settings.retry_after_cap_s)
    return float(settings.backoff_base_s * 2 ** (attempt_number - 1))


async def with_retries(
    call: Callable[[], Awaitable[T]],
    *,
    settings: RetryLimits,
    sleep: Sleep = asyncio.sleep,
    operation: str = "",
    platform: str = "unknown",
) -> T:
    """Run `call`, retrying transient PlatformErrors; the last error is re-raised with its `attempts`."""
    made = 0

    async def counted() -> T:
        nonlocal made
        made += 1
        return await call()

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        return backoff_s(settings, state.attempt_number, error)

    def before_sleep(state: RetryCallState) -> None:
        PLATFORM_RETRIES.labels(platform).inc()
        error = state.outcome.exception() if state.outcome else None
        log.warning(
            "platform_call_retry",
            operation=operation,
            attempt=state.attempt_number,
            wait_s=state.upcoming_sleep,
            error_code=error.code if isinstance(error, PlatformError) else type(error).__name__,
        )

    retrying = AsyncRetrying(
        stop=stop_after_attempt(settings.max_attempts),
        wait=wait,
        retry=retry_if_exception(_is_transient),
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
    try:
        return await retrying(counted)
    except PlatformError as exc:
        exc.attempts = made
        raise
