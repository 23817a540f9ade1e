"""The whole system as real processes: mock platforms, gateway, workers, recorder."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator, Generator
from dataclasses import dataclass
from pathlib import Path

import pytest

from shared.settings import Settings
from tests.support.infra import service_env
from tests.support.processes import WORKER_READY, ServiceProcess, free_port, system_processes
from tests.support.service_logs import trouble_report

WORKERS = ("push-worker", "sync-worker", "status-recorder", "intake")
"""The Kafka consumers of the system, each started with a metrics port of its own."""


@dataclass
class System:
    gateway_url: str
    mock_url: str
    mock_sftp_port: int
    services: dict[str, ServiceProcess]
    log_dir: Path
    metrics_urls: dict[str, str]


@contextlib.asynccontextmanager
async def running_system(
    settings: Settings, log_dir: Path, extra_env: dict[str, str] | None = None
) -> AsyncIterator[System]:
    """Every service started as its own process on the given database and topic prefix."""
    gateway_port, mock_port, sftp_port = free_port(), free_port(), free_port()
    env = {**service_env(settings), **(extra_env or {})}
    env["ACTIVATOR_GATEWAY_PORT"] = str(gateway_port)
    metrics_ports = {name: free_port() for name in WORKERS}

    def worker_env(name: str) -> dict[str, str]:
        return {**env, "METRICS_PORT": str(metrics_ports[name])}

    services = system_processes(
        env, log_dir, mock_port=mock_port, sftp_port=sftp_port, workers=WORKERS, worker_env=worker_env
    )
    for service in services.values():
        service.start()
    try:
        await services["mock-platforms"].wait_for_http(f"http://127.0.0.1:{mock_port}/admin/stats/custom_api")
        await services["gateway"].wait_for_http(f"http://127.0.0.1:{gateway_port}/readyz")
        for name in WORKERS:
            await services[name].wait_for_log(WORKER_READY)
        yield System(
            gateway_url=f"http://127.0.0.1:{gateway_port}",
            mock_url=f"http://127.0.0.1:{mock_port}",
            mock_sftp_port=sftp_port,
            services=services,
            log_dir=log_dir,
            metrics_urls={
                "gateway": f"http://127.0.0.1:{gateway_port}/metrics",
                **{name: f"http://127.0.0.1:{port}/metrics" for name, port in metrics_ports.items()},
            },
        )
    finally:
        for service in services.values():
            service.stop()


@pytest.fixture(scope="session")
async def system(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[System]:
    """The shared system of the e2e session."""
    async with running_system(settings, tmp_path_factory.mktemp(f"e2e-{secrets.token_hex(2)}")) as started:
        yield started


def _systems_of(item: pytest.Item) -> list[System]:
    funcargs = getattr(item, "funcargs", {})
    found = [value for value in funcargs.values() if isinstance(value, System)]
    found += [
        value.system for value in funcargs.values() if isinstance(getattr(value, "system", None), System)
    ]
    return found


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed e2e test reports what its services warned about: CI keeps no log directory."""
    report = yield
    if report.failed and call.when == "call":
        for system in _systems_of(item):
            report.sections.append(
                ("services' warnings and errors", trouble_report(system.log_dir, system.services))
            )
    return report
