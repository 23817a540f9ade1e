"""Publishes committed outbox rows to Kafka and marks them dispatched (at-least-once)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import asyncpg
import structlog
from aiokafka.errors import KafkaError
from faststream.kafka import KafkaBroker
from opentelemetry.trace import SpanKind
from prometheus_client import Counter, Gauge

from shared.db import outbox
from shared.messages import PushCommand, SyncWork
from shared.messaging import kafka
from shared.messaging.producer_watch import note, noted
from shared.settings import Settings
from shared.tracing import context_from_headers, tracer

log = structlog.get_logger(__name__)

PUBLISHED = Counter("activator_outbox_published_total", "Outbox messages published to Kafka")
LAG = Gauge("activator_outbox_lag", "Outbox messages waiting to be published")

# What a Kafka or Postgres outage raises (TimeoutError is an OSError): retried quietly until it ends.
_OUTAGES = (OSError, KafkaError, asyncpg.PostgresError, asyncpg.InterfaceError)


class OutboxRelay:
    """Drains the outbox whenever a transaction notifies it, and on a short poll otherwise."""

    def __init__(
        self, pool: asyncpg.Pool[Any], broker: KafkaBroker, *, poll_interval_s: float, batch: int = 500
    ):
        self._pool = pool
        self._broker = broker
        self._poll_interval_s = poll_interval_s
        self._batch = batch
        self._wakeup = asyncio.Event()

    async def run(self) -> None:
        """Relay until cancelled; Kafka or Postgres outages are retried, never fatal."""
        listener = await self._pool.acquire()
        await listener.add_listener(outbox.NOTIFY_CHANNEL, self._on_notify)
        try:
            while True:
                # Cleared before the drain, not after it: a commit that notifies while a drain runs then
                # gets a drain of its own at once instead of waiting out the poll interval.
                self._wakeup.clear()
                try:
                    drained: int | None = await self.drain_once()
                except _OUTAGES as exc:
                    log.warning("outbox_relay_failed", error_type=type(exc).__name__, error=str(exc)[:200])
                    drained = None
                except Exception:
                    # Not an outage (a bug, a row Kafka refuses): said loudly, with its traceback, but
                    # retried all the same, since a stopped relay would strand every command behind it.
                    log.exception("outbox_relay_error")
                    drained = None
                if drained is None:
                    await self._report_lag()
                    await asyncio.sleep(1.0)
                    continue
                if drained:
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), timeout=self._poll_interval_s)
        finally:
            with contextlib.suppress(Exception):
                await listener.remove_listener(outbox.NOTIFY_CHANNEL, self._on_notify)
            await self._pool.release(listener)

    async def _report_lag(self) -> None:
        # While Kafka is down the lag is what operators most need to see.
        with contextlib.suppress(Exception):
            LAG.set(await outbox.pending_count(self._pool))

    def _on_notify(self, *_args: object) -> None:
        self._wakeup.set()

    async def _publish(self, message: outbox.OutboxMessage) -> Any:
        # Continue the trace of the request that wrote the row (its context is in the row's headers).
        with tracer.start_as_current_span(
            "outbox relay", context=context_from_headers(message.headers), kind=SpanKind.PRODUCER
        ):
            try:
                sent = await self._broker.publish(
                    message.payload,
                    message.topic,
                    key=message.key.encode(),
                    headers=message.headers,
                    no_confirm=True,
                )
            except Exception as exc:
                note(self._broker, exc)  # renewed by the gateway's producer watch when out of step
                raise
            return noted(self._broker, sent)

    async def drain_once(self) -> int:
        """Publish one batch of pending messages; returns how many were published."""
        async with self._pool.acquire() as connection, connection.transaction():
            messages = await outbox.claim_pending(connection, self._batch)
            if not messages:
                LAG.set(0)
                return 0
            futures = [await self._publish(message) for message in messages]
            await asyncio.gather(*futures)
            await outbox.mark_dispatched(connection, [message.id for message in messages])
        PUBLISHED.inc(len(messages))
        LAG.set(await outbox.pending_count(self._pool))
        log.info("outbox_published", count=len(messages))
        return len(messages)


def declare_publications(broker: KafkaBroker, settings: Settings) -> None:
    """Document what the relay publishes (the AsyncAPI document is generated from the brokers)."""
    kafka.declare_publications(
        broker,
        settings,
        "gateway",
        kafka.Publication(
            "push.commands",
            PushCommand,
            "A push run to drive (or one batch of a step run); keyed by connection id.",
        ),
        kafka.Publication(
            "sync.commands",
            SyncWork,
            "A sync run to page through (or one page of a step run); keyed by connection id.",
        ),
    )
