"""Postgres over TLS: the pools and the migrations honour `sslmode`/`sslrootcert` in DATABASE_URL, against
a cluster of `deploy/local/postgres.sh` started with TLS only (plain TCP refused)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from shared.db.migrate import apply_migrations
from shared.db.pool import create_pool
from shared.settings import Settings
from tests.support.infra import service_env
from tests.support.processes import ServiceProcess, free_port

pytestmark = pytest.mark.integration

POSTGRES_SH = Path(__file__).resolve().parents[2] / "deploy" / "local" / "postgres.sh"


@pytest.fixture(scope="module")
def tls_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A TLS-only throwaway cluster on a free port, stopped (and removed) after the module."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ACTIVATOR_PG_LOCAL")}
    env |= {
        "ACTIVATOR_STATE_DIR": str(tmp_path_factory.mktemp("pg-tls")),
        "ACTIVATOR_PG_PORT": str(free_port()),
        "ACTIVATOR_PG_SSL": "1",
    }
    subprocess.run([str(POSTGRES_SH), "start"], env=env, check=True, capture_output=True, timeout=120)
    try:
        url = subprocess.run(
            [str(POSTGRES_SH), "url"], env=env, check=True, capture_output=True, text=True, timeout=30
        ).stdout.strip()
        yield url
    finally:
        subprocess.run([str(POSTGRES_SH), "stop"], env=env, check=False, capture_output=True, timeout=60)


async def test_migrations_and_pools_connect_over_verified_tls(tls_database_url: str) -> None:
    assert "sslmode=verify-full" in tls_database_url
    applied = apply_migrations(tls_database_url)
    pool = await create_pool(tls_database_url, max_size=2)
    try:
        encrypted = await pool.fetchval("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        tables = await pool.fetchval(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'runs'"
        )
    finally:
        await pool.close()
    assert applied
    assert encrypted is True
    assert tables == 1


@pytest.fixture
def other_ca(tmp_path: Path) -> Path:
    """A CA that did not sign the server's certificate."""
    certificate = tmp_path / "other-ca.crt"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=other"),
            *("-keyout", str(tmp_path / "other.key"), "-out", str(certificate)),
        ],
        check=True,
        capture_output=True,
    )
    return certificate


async def test_a_plain_or_unverified_connection_is_refused(tls_database_url: str, other_ca: Path) -> None:
    base = tls_database_url.split("?", 1)[0]
    with pytest.raises(asyncpg.InvalidAuthorizationSpecificationError, match="no encryption"):
        await asyncpg.connect(f"{base}?sslmode=disable")
    with pytest.raises(Exception, match=r"(?i)certificate verify failed"):
        await asyncpg.connect(f"{base}?sslmode=verify-full&sslrootcert={other_ca}")


async def test_the_gateway_is_ready_on_a_tls_database(
    tls_database_url: str, settings: Settings, tmp_path: Path
) -> None:
    port = free_port()
    env = service_env(settings) | {"DATABASE_URL": tls_database_url, "ACTIVATOR_GATEWAY_PORT": str(port)}
    gateway = ServiceProcess("gateway", ["gateway"], env, tmp_path / "gateway.log")
    gateway.start()
    try:
        await gateway.wait_for_http(f"http://127.0.0.1:{port}/readyz")
        async with httpx.AsyncClient() as client:
            ready = await client.get(f"http://127.0.0.1:{port}/readyz")
    finally:
        gateway.stop()
    assert ready.status_code == 200
