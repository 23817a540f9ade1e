"""A worker's probes on METRICS_PORT: /metrics, /healthz (the event loop runs), /readyz (in its group, Postgres).

The HTTP server runs on its own thread so that /healthz can still answer — 503 — when the event loop is
stalled; readiness is computed on the loop every second and read from there, so a stalled loop also
reads as not ready.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import asyncpg
import structlog
from faststream.kafka import KafkaBroker
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

log = structlog.get_logger(__name__)

_CHECK_INTERVAL_S = 1.0


def _consumers(broker: KafkaBroker) -> list[Any]:
    consumers: list[Any] = []
    for subscriber in broker.subscribers:
        # With max_workers > 1 FastStream runs a subgroup of consumers, otherwise one.
        group = getattr(subscriber, "consumer_subgroup", None) or [getattr(subscriber, "consumer", None)]
        consumers.extend(consumer for consumer in group if consumer is not None)
    return consumers


def _in_group(consumer: Any) -> bool:
    # aiokafka has no public "joined" flag: a generation, a known coordinator and no pending rejoin is
    # what its own heartbeat loop checks. An empty assignment still counts (more replicas than partitions).
    coordinator = getattr(consumer, "_coordinator", None)
    subscription = getattr(getattr(consumer, "_subscription", None), "subscription", None)
    if coordinator is None or subscription is None or not hasattr(coordinator, "generation"):
        return False
    return bool(
        coordinator.generation > 0
        and coordinator.coordinator_id is not None
        and not coordinator.need_rejoin(subscription)
    )


def consumer_group_state(broker: KafkaBroker) -> str:
    """`ok` when every consumer of the broker is a member of its group, else what it is doing."""
    consumers = _consumers(broker)
    if not consumers:
        return "not started"
    joined = sum(_in_group(consumer) for consumer in consumers)
    return "ok" if joined == len(consumers) else f"joining ({joined}/{len(consumers)} in group)"


class WorkerHealth:
    """Liveness and readiness of one worker process, served with its metrics."""

    def __init__(
        self, broker: KafkaBroker, *, stall_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._broker = broker
        self._stall_s = stall_s
        self._clock = clock
        self._pool: asyncpg.Pool[Any] | None = None
        self._beat = clock()
        self._checks: dict[str, str] = {"postgres": "not connected", "kafka": "not started"}
        self._server: ThreadingHTTPServer | None = None
        self._task: asyncio.Task[None] | None = None

    def attach_pool(self, pool: asyncpg.Pool[Any]) -> None:
        """Postgres is checked from now on."""
        self._pool = pool

    def liveness(self) -> tuple[bool, dict[str, Any]]:
        """Alive while the event loop has run within `stall_s`."""
        silent = self._clock() - self._beat
        alive = silent < self._stall_s
        return alive, {"status": "ok" if alive else "stalled", "loop_silent_s": round(silent, 1)}

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Ready when the loop runs, Postgres answers and every consumer is in its group."""
        alive, _ = self.liveness()
        checks = dict(self._checks)
        # A stalled loop stops refreshing the checks: its last "ok" must not keep the pod in rotation.
        ready = alive and self._clock() - self._beat < 3 * _CHECK_INTERVAL_S + 2
        ready = ready and all(value == "ok" for value in checks.values())
        return ready, {"status": "ready" if ready else "not ready", "checks": checks}

    async def _refresh(self) -> None:
        postgres = "not connected"
        if self._pool is not None:
            try:
                await asyncio.wait_for(self._pool.fetchval("SELECT 1"), timeout=2)
                postgres = "ok"
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                postgres = type(exc).__name__
        self._checks = {"postgres": postgres, "kafka": consumer_group_state(self._broker)}

    async def _watch(self) -> None:
        while True:
            self._beat = self._clock()
            with contextlib.suppress(Exception):  # a failed check is a state, never the end of the probe
                await self._refresh()
            self._beat = self._clock()
            await asyncio.sleep(_CHECK_INTERVAL_S)

    def start(self, port: int) -> None:
        """Start watching (on this loop) and serving (0: no port, the local default where replicas share a host)."""
        self._beat = self._clock()
        self._task = asyncio.get_running_loop().create_task(self._watch(), name="worker-health")
        if port <= 0:
            return
        self._server = ThreadingHTTPServer(("0.0.0.0", port), _handler(self))  # noqa: S104 - probed from outside
        threading.Thread(target=self._server.serve_forever, name="worker-health-http", daemon=True).start()
        log.info("health_listening", port=port, paths=["/metrics", "/healthz", "/readyz"])

    async def stop(self) -> None:
        """Stop serving and watching."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def _handler(health: WorkerHealth) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, generate_latest(), CONTENT_TYPE_LATEST)
            elif path in {"/healthz", "/readyz"}:
                ok, body = health.liveness() if path == "/healthz" else health.readiness()
                self._send(200 if ok else 503, json.dumps(body).encode(), "application/json")
            else:
                self._send(404, b'{"status": "not found"}', "application/json")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Probes every few seconds would drown the worker's log."""

    return Handler
