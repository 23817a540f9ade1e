"""A Kafka broker of a test's own (deploy/local/kafka.sh on free ports), for tests that stop Kafka."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from shared.settings import Settings
from tests.support.infra import isolated_settings, own_database
from tests.support.own_service import LOCAL_SCRIPTS, OwnService
from tests.support.processes import free_port


def free_port_pair() -> int:
    """A port whose successor is free too (the broker's controller listens on port + 1)."""
    for _ in range(50):
        port = free_port()
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    msg = "no two consecutive free loopback ports found"
    raise RuntimeError(msg)


@dataclass
class OwnKafka(OwnService):
    """A single-node broker with its own state dir; stopping it keeps its data so it can come back.

    With `security="SASL_SSL"` kafka.sh makes a throwaway CA and broker certificate and a SCRAM-SHA-512
    user; `client_env()` is what a service needs to reach it. `start()` waits until the broker accepts
    idempotent writes (~5 s).
    """

    script: ClassVar[Path] = LOCAL_SCRIPTS / "kafka.sh"
    env_name: ClassVar[str] = "KAFKA"
    suite_env: ClassVar[frozenset[str]] = frozenset({"KAFKA_BOOTSTRAP_SERVERS", "ACTIVATOR_KAFKA_LOCAL"})

    security: str = "PLAINTEXT"
    sasl_username: str = "activator"
    sasl_password: str = field(default="activator-e2e-secret", repr=False)

    @property
    def bootstrap(self) -> str:
        """The broker's address."""
        return f"127.0.0.1:{self.port}"

    def script_env(self) -> dict[str, str]:
        """The listener's security and the SCRAM user kafka.sh creates for SASL_SSL."""
        return {
            "ACTIVATOR_KAFKA_SECURITY": self.security,
            "ACTIVATOR_KAFKA_SASL_USERNAME": self.sasl_username,
            "ACTIVATOR_KAFKA_SASL_PASSWORD": self.sasl_password,
        }

    @property
    def ca_file(self) -> Path:
        """The CA that signed the broker's certificate (SASL_SSL only)."""
        return self.state_dir / "kafka" / "tls" / "ca.pem"

    def client_env(self, *, password: str | None = None) -> dict[str, str]:
        """KAFKA_* settings of a service using this broker (another `password` to see a refusal)."""
        env = {"KAFKA_BOOTSTRAP_SERVERS": self.bootstrap, "KAFKA_SECURITY_PROTOCOL": self.security}
        if self.security == "SASL_SSL":
            env |= {
                "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
                "KAFKA_SASL_USERNAME": self.sasl_username,
                "KAFKA_SASL_PASSWORD": self.sasl_password if password is None else password,
                "KAFKA_SSL_CA_FILE": str(self.ca_file),
            }
        return env

    def client_settings(self) -> dict[str, object]:
        """The Settings fields of a client of this broker beyond its address (as `client_env()`)."""
        if self.security != "SASL_SSL":
            return {}
        return {
            "kafka_security_protocol": "SASL_SSL",
            "kafka_sasl_mechanism": "SCRAM-SHA-512",
            "kafka_sasl_username": self.sasl_username,
            "kafka_sasl_password": self.sasl_password,
            "kafka_ssl_ca_file": str(self.ca_file),
        }


@contextlib.asynccontextmanager
async def own_kafka_and_database(
    root: Path, topic_prefix: str, *, security: str = "PLAINTEXT"
) -> AsyncIterator[tuple[OwnKafka, Settings]]:
    """A started broker and a migrated database of a test's own, and settings on both; removed afterwards."""
    kafka = OwnKafka(root / "state", free_port_pair(), security=security)
    async with own_database() as database_url:
        try:
            await kafka.start()
            yield (
                kafka,
                isolated_settings(database_url, kafka.bootstrap, topic_prefix, **kafka.client_settings()),
            )
        finally:
            await kafka.stop(keep_data=False)
