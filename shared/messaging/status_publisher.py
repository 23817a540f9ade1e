"""Publishes status events to activator.status, keyed by run id so a run's events stay in order."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Sequence
from typing import Protocol

from faststream.kafka import KafkaBroker

from shared.messages import StatusEvent
from shared.messaging.producer_watch import note, noted


class StatusPublisher(Protocol):
    async def publish(self, events: Sequence[StatusEvent]) -> None:
        """Send the events and return once the broker acknowledged all of them."""
        ...

    async def send(self, events: Sequence[StatusEvent]) -> Awaitable[object]:
        """Queue the events behind those sent before; await the result for the broker's acknowledgement."""
        ...


class KafkaStatusPublisher:
    """StatusPublisher over the service's idempotent producer."""

    def __init__(self, broker: KafkaBroker, topic: str) -> None:
        self._broker = broker
        self._topic = topic

    async def publish(self, events: Sequence[StatusEvent]) -> None:
        """Send the events and return once the broker acknowledged all of them."""
        await (await self.send(events))

    async def send(self, events: Sequence[StatusEvent]) -> Awaitable[object]:
        """Queue the events behind those sent before; await the result for the broker's acknowledgement.
        A failure that leaves the producer out of step is noted for its renewal (producer_watch.py)."""
        try:
            futures = [
                await self._broker.publish(
                    event.model_dump(mode="json"),
                    self._topic,
                    key=str(event.run_id).encode(),
                    no_confirm=True,
                )
                for event in events
            ]
        except Exception as exc:
            note(self._broker, exc)
            raise
        return noted(self._broker, asyncio.gather(*futures))


class PendingAcks:
    """Sends of one publisher whose acknowledgements are awaited later, in order, at most `limit` open.

    Lets a worker go on with its next unit of work while the broker confirms the last one's events;
    `confirm_all` before the consumer's offset moves keeps the at-least-once promise.
    """

    def __init__(self, publisher: StatusPublisher, *, limit: int = 64) -> None:
        self._publisher = publisher
        self._limit = limit
        self._open: collections.deque[asyncio.Future[object]] = collections.deque()

    async def send(self, events: Sequence[StatusEvent]) -> None:
        """Queue the events; waits only when `limit` sends are still unacknowledged.

        Raises the failure of an earlier send as soon as it is known.
        """
        self._open.append(asyncio.ensure_future(await self._publisher.send(events)))
        while self._open and (len(self._open) > self._limit or self._open[0].done()):
            await self._open.popleft()

    async def confirm_all(self) -> None:
        """Return once every send so far is acknowledged (raises the first failure)."""
        while self._open:
            await self._open.popleft()

    def forget(self) -> None:
        """Drop the open sends after a failure elsewhere (their outcome is retrieved, not raised)."""
        while self._open:
            self._open.popleft().add_done_callback(_retrieve)


def _retrieve(future: asyncio.Future[object]) -> None:
    if not future.cancelled():
        future.exception()
