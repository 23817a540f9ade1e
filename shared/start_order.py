"""Start in any order: every service waits for Postgres and Kafka with backoff instead of exiting.

A pod rescheduled during a Kafka or Postgres outage must come up not-ready and start working when they
return; exiting would turn the outage into a crash loop. Only a refusal that retrying cannot fix (wrong
credentials, an untrusted certificate) ends the service, with one line (a ConfigurationError).
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import asyncpg
import structlog
from aiokafka.errors import KafkaError

from shared.db.pool import create_pool
from shared.messaging.kafka import ensure_topics
from shared.messaging.kafka_security import KafkaRefused, probe_kafka
from shared.settings import ConfigurationError, Settings

log = structlog.get_logger(__name__)

_POSTGRES_REFUSALS = (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError)


class Backoff:
    """Waits of 0.5 s doubling up to `max_s`, with jitter so replicas do not retry in step."""

    def __init__(self, max_s: float, first_s: float = 0.5) -> None:
        self._next = min(first_s, max_s)
        self._max = max_s

    def next_delay(self) -> float:
        """The wait before the next attempt."""
        delay = self._next * random.uniform(0.8, 1.2)
        self._next = min(self._next * 2, self._max)
        return delay


async def wait_for_postgres(settings: Settings, *, max_size: int) -> asyncpg.Pool[Any]:
    """A pool, once Postgres accepts a connection; retried with backoff until then."""
    backoff = Backoff(settings.dependency_retry_max_s)
    while True:
        try:
            pool = await create_pool(settings.database_url, max_size=max_size)
        except _POSTGRES_REFUSALS as exc:
            msg = f"Postgres refused the credentials of DATABASE_URL ({type(exc).__name__})"
            raise ConfigurationError(msg) from None
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            delay = backoff.next_delay()
            log.warning("postgres_unavailable", error_type=type(exc).__name__, retry_in_s=round(delay, 1))
            await asyncio.sleep(delay)
            continue
        log.info("postgres_connected")
        return pool


async def wait_for_kafka(settings: Settings) -> None:
    """Return once a broker authenticates us and Activator's topics exist; retried with backoff until then.

    Raises KafkaRefused (a ConfigurationError) at once for wrong credentials or an untrusted certificate.
    """
    backoff = Backoff(settings.dependency_retry_max_s)
    while True:
        try:
            # The probe first: it tells a refusal from an outage, and does not log every refused connection.
            await probe_kafka(settings)
            await ensure_topics(settings)
        except KafkaRefused:
            raise
        except (OSError, TimeoutError, KafkaError) as exc:
            delay = backoff.next_delay()
            log.warning(
                "kafka_unavailable",
                error_type=type(exc).__name__,
                error=str(exc)[:200],
                retry_in_s=round(delay, 1),
            )
            await asyncio.sleep(delay)
            continue
        log.info("kafka_connected", security_protocol=settings.kafka_security_protocol)
        return
