"""A Kafka broker of a test's own (deploy/local/kafka.sh on free ports), for tests that stop Kafka."""

from __future__ import annotations

import asyncio
import os
import socket
from dataclasses import dataclass
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
    """A single-node broker with its own state dir; stopping it keeps its data so it can come back."""

    state_dir: Path
    port: int

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
            }
        )
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
