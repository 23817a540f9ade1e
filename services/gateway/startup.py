"""The gateway's start in any order: it serves at once, and its loops start as Postgres and Kafka answer.

The HTTP API needs Postgres only, so /readyz says 503 until Postgres answers and the outbox keeps
requested runs until Kafka does; nothing here exits for an outage. Wrong credentials do end the process
(`fatal`), since no retry can fix them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import asyncpg
import structlog
from faststream.kafka import KafkaBroker

from services.gateway.auto_retry import AutoRetry
from services.gateway.consumer_lag import export_lag_forever
from services.gateway.outbox_relay import OutboxRelay
from services.gateway.retention import RetentionPruner
from services.gateway.rounds import Rounds
from services.gateway.run_supervisor import RunSupervisor
from services.gateway.scheduler import Scheduler
from shared.db.orgs import ensure_dev_org
from shared.messaging.producer_watch import watch_producer
from shared.settings import ConfigurationError, Settings
from shared.start_order import Backoff, wait_for_kafka

log = structlog.get_logger(__name__)

_POSTGRES_DOWN = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


class GatewayStartup:
    """Brings the gateway's background loops up in order; `fatal` holds why it gave up, if it did."""

    def __init__(
        self,
        pool: asyncpg.Pool[Any],
        broker: KafkaBroker,
        settings: Settings,
        *,
        stop_server: Callable[[], None],
    ) -> None:
        self._pool = pool
        self._stop_server = stop_server
        self._broker = broker
        self._settings = settings
        self.tasks: list[asyncio.Task[None]] = []
        self.fatal: str | None = None

    def _spawn(self, loop: Callable[[], Coroutine[Any, Any, None]], name: str) -> None:
        self.tasks.append(asyncio.create_task(loop(), name=name))

    def _every(self, interval_s: float, rounds: Rounds, name: str) -> None:
        self.tasks.append(asyncio.create_task(rounds.run(interval_s), name=name))

    async def _wait_for_postgres(self) -> None:
        backoff = Backoff(self._settings.dependency_retry_max_s)
        while True:
            try:
                await asyncio.wait_for(self._pool.fetchval("SELECT 1"), timeout=5)
            except (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError) as exc:
                msg = f"Postgres refused the credentials of DATABASE_URL ({type(exc).__name__})"
                raise ConfigurationError(msg) from None
            except _POSTGRES_DOWN as exc:
                delay = backoff.next_delay()
                log.warning("postgres_unavailable", error_type=type(exc).__name__, retry_in_s=round(delay, 1))
                await asyncio.sleep(delay)
                continue
            log.info("postgres_connected")
            return

    async def _bring_up(self) -> None:
        settings = self._settings
        await self._wait_for_postgres()
        if settings.activator_dev_api_key is not None:
            await ensure_dev_org(self._pool, settings.activator_dev_api_key.get_secret_value())
        self._every(
            settings.stuck_run_check_interval_s, RunSupervisor(self._pool, settings), "run-supervisor"
        )
        self._every(settings.retention_interval_s, RetentionPruner(self._pool, settings), "retention")
        # Postgres is enough: a scheduled run's command waits in the outbox until Kafka answers.
        self._every(settings.scheduler_poll_interval_s, Scheduler(self._pool, settings), "scheduler")
        if settings.auto_retry_horizon_s > 0:
            self._every(settings.auto_retry_poll_interval_s, AutoRetry(self._pool, settings), "auto-retry")
        await wait_for_kafka(settings)
        await self._broker.connect()
        relay = OutboxRelay(self._pool, self._broker, poll_interval_s=settings.outbox_poll_interval_s)
        self._spawn(relay.run, "outbox-relay")
        self._spawn(lambda: watch_producer(self._broker), "kafka-producer-watch")
        self._spawn(lambda: export_lag_forever(settings), "consumer-lag")
        log.info("gateway_connected")

    def start(self) -> None:
        """Begin bringing the loops up, in the background: the lifespan does not wait for it."""
        self._spawn(self.run, "startup")

    async def run(self) -> None:
        """Bring everything up; on a refusal, record it and stop the server (the CLI then exits 2)."""
        try:
            await self._bring_up()
        except ConfigurationError as exc:
            self.fatal = str(exc)
            self._stop_server()

    async def stop(self) -> None:
        """Cancel the loops started so far."""
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
