"""Publishes status events to activator.status, keyed by run id so a run's events stay in order."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

from faststream.kafka import KafkaBroker

from shared.messages import StatusEvent


class StatusPublisher(Protocol):
    async def publish(self, events: Sequence[StatusEvent]) -> None:
        """Send the events and return once the broker acknowledged all of them."""
        ...


class KafkaStatusPublisher:
    """StatusPublisher over the service's idempotent producer."""

    def __init__(self, broker: KafkaBroker, topic: str) -> None:
        self._broker = broker
        self._topic = topic

    async def publish(self, events: Sequence[StatusEvent]) -> None:
        """Send the events and return once the broker acknowledged all of them."""
        futures = [
            await self._broker.publish(
                event.model_dump(mode="json"), self._topic, key=str(event.run_id).encode(), no_confirm=True
            )
            for event in events
        ]
        await asyncio.gather(*futures)
