"""Bounded retries for Kafka consumers: a failing message is retried with backoff, then dead-lettered."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import structlog
from aiokafka.errors import KafkaError
from faststream import BaseMiddleware
from faststream.kafka import KafkaBroker
from prometheus_client import Counter
from pydantic import ValidationError
from tenacity import AsyncRetrying, RetryCallState, wait_exponential

from shared.db.pool import POSTGRES_CONNECTION_LOST
from shared.messages import DeadLetterMessage

log = structlog.get_logger(__name__)

DEAD_LETTERED = Counter("activator_dlq_messages_total", "Messages sent to the dead-letter topic", ["source"])


_TRANSIENT: tuple[type[BaseException], ...] = (*POSTGRES_CONNECTION_LOST, KafkaError)
MAX_TRANSIENT_BACKOFF_S = 10.0
_OUTAGE_DOUBLINGS = 10  # an outage's waits stop growing after this many doublings (or at the cap)


def is_transient(error: BaseException) -> bool:
    """Infrastructure failures (Postgres or Kafka away): retried without limit, never dead-lettered."""
    return isinstance(error, _TRANSIENT)


def _backoff(base_s: float, *, cap_s: float | None = None) -> Callable[[int], float]:
    """The wait before a message's next delivery after its n-th failure: tenacity's exponential wait
    (base * 2^(n-1), at most `cap_s`), as the platform calls' retries use it."""
    strategy = (
        wait_exponential(multiplier=base_s)
        if cap_s is None
        else wait_exponential(multiplier=base_s, max=cap_s)
    )

    def wait(failures: int) -> float:
        # Deliveries, not calls, are what fails here: the count lives in the guard, not in a retry loop.
        state = RetryCallState(AsyncRetrying(), None, (), {})
        state.attempt_number = failures
        return strategy(state)

    return wait


class ShutdownInterrupted(Exception):
    """The worker is stopping mid-message: leave it uncommitted so the next owner resumes it."""


DeadLetterHook = Callable[[Any, BaseException], Awaitable[None]]

CommandT = TypeVar("CommandT")


def fail_run_when_dead_lettered(
    kind: str, parse: Callable[[bytes], CommandT], fail: Callable[[CommandT, str], Awaitable[None]]
) -> DeadLetterHook:
    """A run worker's dead-letter hook: a command that will never be processed must not leave its run
    `running` forever, so `fail` closes the command's run with why (a body that does not parse names no run)."""

    async def fail_dead_lettered_run(record: Any, error: BaseException) -> None:
        try:
            command = parse(record.value or b"")
        except ValidationError:
            return
        await fail(command, f"{kind} command dead-lettered: {type(error).__name__}: {str(error)[:300]}")

    return fail_dead_lettered_run


class PoisonMessage(Exception):
    """A message that can never succeed (unparseable, wrong version): dead-letter it at once."""


class ConsumerGuard:
    """Retries a handler a bounded number of times per message, then moves the message to the DLQ."""

    def __init__(
        self,
        broker: KafkaBroker,
        dlq_topic: str,
        *,
        max_attempts: int,
        backoff_s: float,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_dead_letter: DeadLetterHook | None = None,
        service: str = "worker",
    ) -> None:
        self._broker = broker
        self._dlq_topic = dlq_topic
        self._max_attempts = max_attempts
        self._retry_wait = _backoff(backoff_s)
        self._outage_wait = _backoff(
            backoff_s, cap_s=min(MAX_TRANSIENT_BACKOFF_S, backoff_s * 2**_OUTAGE_DOUBLINGS)
        )
        self._sleep = sleep
        self._on_dead_letter = on_dead_letter
        self._attempts: dict[tuple[str, int, int], int] = {}
        self._waits: dict[tuple[str, int, int], int] = {}
        broker.publisher(
            dlq_topic,
            title=f"{service}/dlq",
            description="Messages this consumer gave up on (bounded retries or unparseable).",
            schema=DeadLetterMessage,
        )

    async def run(
        self, record: Any, handler: Callable[[], Awaitable[None]], *, batch: Sequence[Any] = ()
    ) -> None:
        """Call `handler`; on failure raise for redelivery until the attempts run out, then dead-letter.

        `record` identifies the delivery; `batch` (for batch consumers) is what is dead-lettered.
        """
        position = (record.topic, record.partition, record.offset)
        casualties = batch or (record,)
        try:
            await handler()
        except ShutdownInterrupted:
            raise  # not a failure of the message: no attempt counted, no backoff
        except PoisonMessage as exc:
            attempts = self._attempts.pop(position, 0) + 1
            for casualty in casualties:
                await self.dead_letter(casualty, exc, attempts=attempts)
            return
        except Exception as exc:
            if is_transient(exc):
                waits = self._waits.get(position, 0) + 1
                self._waits[position] = waits
                log.warning(
                    "message_waits_for_infrastructure", error_type=type(exc).__name__, error=str(exc)[:300]
                )
                await self._sleep(self._outage_wait(waits + 1))
                raise
            attempts = self._attempts.get(position, 0) + 1
            if attempts >= self._max_attempts:
                self._attempts.pop(position, None)
                log.exception(
                    "message_dead_lettered",
                    topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                )
                for casualty in casualties:
                    await self.dead_letter(casualty, exc, attempts=attempts)
                return
            self._attempts[position] = attempts
            log.warning(
                "message_failed_will_retry",
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                attempt=attempts,
                error_type=type(exc).__name__,
                error=str(exc)[:300],
            )
            await self._sleep(self._retry_wait(attempts))
            raise
        self._attempts.pop(position, None)
        self._waits.pop(position, None)

    async def dead_letter(self, record: Any, error: BaseException, *, attempts: int) -> None:
        """Publish the original message with the error, the attempt count and its original headers."""
        headers = {key: base64.b64encode(value or b"").decode() for key, value in (record.headers or ())}
        letter = DeadLetterMessage(
            source_topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            error_type=type(error).__name__,
            error=str(error)[:1000],
            attempts=attempts,
            failed_at=datetime.now(UTC),
            original_headers_b64=headers,
            original_value_b64=base64.b64encode(record.value or b"").decode(),
        )
        await self._broker.publish(letter.model_dump(mode="json"), self._dlq_topic, key=record.key)
        DEAD_LETTERED.labels(source=record.topic).inc()
        if self._on_dead_letter is not None:
            await self._on_dead_letter(record, error)


def guard_middleware(guard: ConsumerGuard) -> Callable[..., BaseMiddleware]:
    """FastStream middleware applying `guard` to every message; a body that fails validation is poison."""

    class GuardMiddleware(BaseMiddleware):
        async def consume_scope(self, call_next: Callable[[Any], Awaitable[Any]], msg: Any) -> Any:
            raw = msg.raw_message
            batch: tuple[Any, ...] = raw if isinstance(raw, tuple) else ()
            first = batch[0] if batch else raw
            result: Any = None

            async def handle() -> None:
                nonlocal result
                try:
                    result = await call_next(msg)
                except ValidationError as exc:
                    raise PoisonMessage(str(exc)) from exc

            await guard.run(first, handle, batch=batch)
            return result

    return GuardMiddleware
