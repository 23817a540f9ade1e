"""ConsumerGuard: bounded retries, then the DLQ; outages wait; a shutdown hands the message over untouched."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest

from shared.messages import PushCommand
from shared.messaging.consumer_guard import (
    ConsumerGuard,
    PoisonMessage,
    ShutdownInterrupted,
    fail_run_when_dead_lettered,
)


@dataclass
class Record:
    topic: str = "activator.push.commands"
    partition: int = 3
    offset: int = 42
    key: bytes = b"connection-1"
    value: bytes = b'{"type": "push"}'
    headers: tuple[tuple[str, bytes], ...] = (("traceparent", b"00-abc"),)


@dataclass
class FakeBroker:
    published: list[tuple[dict[str, Any], str]] = field(default_factory=list)

    async def publish(self, body: dict[str, Any], topic: str, **_: Any) -> None:
        self.published.append((body, topic))

    def publisher(self, *_: Any, **__: Any) -> None:
        """Declares the DLQ channel for the AsyncAPI document; nothing to do here."""


@dataclass
class Clock:
    sleeps: list[float] = field(default_factory=list)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


def make_guard(broker: FakeBroker, clock: Clock, hooked: list[BaseException]) -> ConsumerGuard:
    async def hook(_record: Any, error: BaseException) -> None:
        hooked.append(error)

    return ConsumerGuard(
        broker,  # type: ignore[arg-type]
        "activator.dlq",
        max_attempts=3,
        backoff_s=0.5,
        sleep=clock.sleep,
        on_dead_letter=hook,
    )


async def test_a_failing_message_is_retried_with_backoff_then_dead_lettered() -> None:
    broker, clock, hooked = FakeBroker(), Clock(), list[BaseException]()
    guard = make_guard(broker, clock, hooked)

    async def boom() -> None:
        raise ValueError("platform config broke the handler")

    for _ in range(2):
        with pytest.raises(ValueError, match="broke"):
            await guard.run(Record(), boom)
    await guard.run(Record(), boom)  # third attempt: dead-lettered, not raised (the consumer moves on)

    assert clock.sleeps == [0.5, 1.0]
    [(letter, topic)] = broker.published
    assert topic == "activator.dlq"
    assert letter["attempts"] == 3
    assert letter["source_topic"] == "activator.push.commands"
    assert letter["error_type"] == "ValueError"
    assert letter["original_headers_b64"] == {"traceparent": "MDAtYWJj"}
    assert len(hooked) == 1


async def test_a_dead_lettered_command_fails_its_run_with_the_error_and_a_body_without_a_run_fails_none() -> (
    None
):
    failed: list[tuple[uuid.UUID, str]] = []

    async def fail(command: PushCommand, reason: str) -> None:
        failed.append((command.run_id, reason))

    hook = fail_run_when_dead_lettered("push", PushCommand.model_validate_json, fail)
    command = PushCommand(run_id=uuid.uuid4(), org_id=uuid.uuid4(), connection_id=uuid.uuid4())
    await hook(Record(value=command.model_dump_json().encode()), ValueError("x" * 400))
    await hook(Record(), ValueError("a push command without its run"))

    assert failed == [(command.run_id, "push command dead-lettered: ValueError: " + "x" * 300)]


async def test_an_unparseable_message_goes_to_the_dlq_at_once() -> None:
    broker, clock, hooked = FakeBroker(), Clock(), list[BaseException]()

    async def poison() -> None:
        raise PoisonMessage("not a PushCommand")

    await make_guard(broker, clock, hooked).run(Record(), poison)
    assert [letter["attempts"] for letter, _ in broker.published] == [1]
    assert clock.sleeps == []


@pytest.mark.parametrize(
    "outage",
    [
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.CrashShutdownError("terminating connection because of crash of another server process"),
        ConnectionRefusedError(111, "Connection refused"),
    ],
    ids=lambda error: type(error).__name__,
)
async def test_an_infrastructure_outage_is_retried_without_limit(outage: Exception) -> None:
    broker, clock, hooked = FakeBroker(), Clock(), list[BaseException]()
    guard = make_guard(broker, clock, hooked)

    async def postgres_away() -> None:
        raise outage

    for _ in range(10):
        with pytest.raises(type(outage)):
            await guard.run(Record(), postgres_away)
    assert broker.published == []
    assert len(clock.sleeps) == 10
    assert max(clock.sleeps) <= 10.0


async def test_a_shutdown_hands_the_message_over_without_counting_an_attempt() -> None:
    broker, clock, hooked = FakeBroker(), Clock(), list[BaseException]()
    guard = make_guard(broker, clock, hooked)

    async def stopping() -> None:
        raise ShutdownInterrupted

    for _ in range(5):
        with pytest.raises(ShutdownInterrupted):
            await guard.run(Record(), stopping)
    assert broker.published == []
    assert clock.sleeps == []


async def test_a_batch_that_fails_for_good_dead_letters_every_record_of_it() -> None:
    broker, clock, hooked = FakeBroker(), Clock(), list[BaseException]()
    guard = make_guard(broker, clock, hooked)
    batch = [Record(offset=10), Record(offset=11), Record(offset=12)]

    async def boom() -> None:
        raise KeyError("bad event")

    for _ in range(2):
        with pytest.raises(KeyError):
            await guard.run(batch[0], boom, batch=batch)
    await guard.run(batch[0], boom, batch=batch)
    assert [letter["offset"] for letter, _ in broker.published] == [10, 11, 12]
