"""A Kafka broker of a test's own (deploy/local/kafka.sh on free ports), for tests that stop Kafka."""

from __future__ import annotations

import asyncio
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.processes import free_port

KAFKA_SH = Path(__file__).resolve().parents[2] / "deploy" / "local" / "kafka.sh"


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
class OwnKafka:
    """A single-node broker with its own state dir; stopping it keeps its data so it can come back.

    With `security="SASL_SSL"` kafka.sh makes a throwaway CA and broker certificate and a SCRAM-SHA-512
    user; `client_env()` is what a service needs to reach it.
    """

    state_dir: Path
    port: int
    security: str = "PLAINTEXT"
    sasl_username: str = "activator"
    sasl_password: str = field(default="activator-e2e-secret", repr=False)

    @property
    def bootstrap(self) -> str:
        """The broker's address."""
        return f"127.0.0.1:{self.port}"

    def _env(self, *, keep_data: bool) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"KAFKA_BOOTSTRAP_SERVERS", "ACTIVATOR_KAFKA_LOCAL"}
        }
        env.update(
            {
                "ACTIVATOR_STATE_DIR": str(self.state_dir),
                "ACTIVATOR_KAFKA_PORT": str(self.port),
                "ACTIVATOR_KAFKA_KEEP": "1" if keep_data else "0",
                "ACTIVATOR_KAFKA_SECURITY": self.security,
                "ACTIVATOR_KAFKA_SASL_USERNAME": self.sasl_username,
                "ACTIVATOR_KAFKA_SASL_PASSWORD": self.sasl_password,
            }
        )
        return env

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

    async def _run(self, command: str, *, keep_data: bool = True) -> None:
        process = await asyncio.create_subprocess_exec(
            str(KAFKA_SH),
            command,
            env=self._env(keep_data=keep_data),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await process.communicate()
        if process.returncode != 0:
            msg = f"kafka.sh {command} failed ({process.returncode}):\n{output.decode(errors='replace')[-3000:]}"
            raise RuntimeError(msg)

    async def start(self) -> None:
        """Start (or restart) the broker and wait until it accepts idempotent writes (~5 s)."""
        await self._run("start")

    async def stop(self, *, keep_data: bool = True) -> None:
        """Stop the broker; with `keep_data` its topics and offsets survive a restart."""
        await self._run("stop", keep_data=keep_data)
