"""The bench's own world: a fresh database and topic prefix, and every service as a process on free ports."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from shared.db.migrate import apply_migrations
from shared.db.pool import create_pool
from shared.settings import Settings
from tests.support.infra import TEST_ENCRYPTION_KEY, create_test_database, drop_test_database, service_env
from tests.support.processes import WORKER_READY, ServiceProcess, free_port, system_processes

WORKERS = ("push-worker", "status-recorder", "sync-worker")


@dataclass
class World:
    settings: Settings
    env: dict[str, str]
    log_dir: Path
    pool: asyncpg.Pool[Any]
    gateway_url: str
    mock_url: str
    mock: httpx.AsyncClient
    services: dict[str, ServiceProcess] = field(default_factory=dict)

    def settings_for(self, prefix: str) -> Settings:
        """The world's settings on another topic prefix (P2 pre-loads a topic of its own)."""
        return self.settings.model_copy(update={"kafka_topic_prefix": prefix})

    def pids(self) -> dict[str, int]:
        """Pid of every running service, by name."""
        return {
            name: service.process.pid
            for name, service in self.services.items()
            if service.process is not None and service.process.poll() is None
        }

    def launch(self, name: str, args: list[str], env: dict[str, str] | None = None) -> ServiceProcess:
        """Start one more service process (a replica, or a recorder on another prefix) without waiting."""
        service = ServiceProcess(name, args, env or self.env, self.log_dir / f"{name}.log")
        self.services[name] = service
        service.start()
        return service

    async def start_worker(
        self, name: str, args: list[str], env: dict[str, str] | None = None
    ) -> ServiceProcess:
        """Start one more worker process and wait until it consumes."""
        service = self.launch(name, args, env)
        await service.wait_for_log(WORKER_READY, timeout=120)
        return service

    def stop_service(self, name: str) -> None:
        """Stop a service started by the bench (SIGTERM, then SIGKILL)."""
        service = self.services.pop(name, None)
        if service is not None:
            service.stop()


@contextlib.asynccontextmanager
async def bench_database(base_url: str) -> AsyncIterator[str]:
    """A migrated database of the bench's own beside the given one, dropped afterwards."""
    url = await create_test_database(base_url, migrated=False, prefix="activator_bench")
    try:
        apply_migrations(url)
        yield url
    finally:
        await drop_test_database(base_url, url)


@contextlib.asynccontextmanager
async def running_world(log_dir: Path) -> AsyncIterator[World]:
    """Mock platforms, gateway, push-worker, status-recorder and sync-worker on a database of their own."""
    base_url = os.environ.get("DATABASE_URL")
    kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not base_url or not kafka:
        msg = "DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS are not set: run `make bench` (deploy/local/with_infra.sh)"
        raise RuntimeError(msg)
    async with bench_database(base_url) as database_url:
        settings = Settings.model_validate(
            {
                "database_url": database_url,
                "kafka_bootstrap_servers": kafka,
                "kafka_topic_prefix": f"b{secrets.token_hex(3)}.activator",
                "credentials_encryption_key": TEST_ENCRYPTION_KEY,
                "activator_egress_allow_private": True,
            }
        )
        env = service_env(settings)
        gateway_port, mock_port, sftp_port = free_port(), free_port(), free_port()
        env["ACTIVATOR_GATEWAY_PORT"] = str(gateway_port)
        services = system_processes(env, log_dir, mock_port=mock_port, sftp_port=sftp_port, workers=WORKERS)
        pool = await create_pool(database_url, max_size=8)
        mock_url = f"http://127.0.0.1:{mock_port}"
        mock = httpx.AsyncClient(base_url=mock_url, timeout=120)
        world = World(
            settings, env, log_dir, pool, f"http://127.0.0.1:{gateway_port}", mock_url, mock, services
        )
        try:
            for service in services.values():
                service.start()
            await services["mock-platforms"].wait_for_http(f"{mock_url}/admin/health", timeout=120)
            await services["gateway"].wait_for_http(f"{world.gateway_url}/readyz", timeout=120)
            for name in WORKERS:
                await services[name].wait_for_log(WORKER_READY, timeout=120)
            yield world
        finally:
            for service in list(world.services.values()):
                service.stop()
            await mock.aclose()
            await pool.close()
