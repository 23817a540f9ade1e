"""Services as real processes for end-to-end tests, with their logs kept for diagnosis."""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

_HANDED_OUT: set[int] = set()
_LOW_PORT = 20_000
_RANDOM = random.SystemRandom()  # not the seeded module random: each test reseeds that one alike


def _ephemeral_low() -> int:
    """Where the kernel starts choosing the local ports of outgoing connections."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def free_port() -> int:
    """A loopback port nobody listens on right now, below the kernel's ephemeral range: a port handed
    to a service to bind later must not be taken meanwhile as the local end of some outgoing connection
    (a Kafka or Postgres client), which is what a port the kernel picks for bind(0) can be."""
    high = _ephemeral_low()
    for _ in range(200):
        port = _RANDOM.randrange(_LOW_PORT, high) if high > _LOW_PORT + 1_000 else 0
        if port in _HANDED_OUT:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            chosen: int = sock.getsockname()[1]
        _HANDED_OUT.add(chosen)
        return chosen
    msg = f"no free loopback port in {_LOW_PORT}-{high}"
    raise RuntimeError(msg)


@dataclass
class ServiceProcess:
    name: str
    args: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    # The process's WORKER_INSTANCE_ID, the same on each restart (as a pod's name is), unique to this process.
    instance_id: str = field(default_factory=lambda: f"test-{secrets.token_hex(4)}", init=False)

    def start(self) -> None:
        """Start `python -m services <args>` in its own process group."""
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "services", *self.args],
            env={"WORKER_INSTANCE_ID": f"{self.name}-{self.instance_id}", **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send a signal to the process group (SIGKILL by default: a crash)."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit within 20 s."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self, lines: int = 30) -> str:
        """The end of the service's log (shown when a wait fails)."""
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def log_size(self) -> int:
        """Current length of the log, to wait for a marker written after this point."""
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    async def wait_for_log(self, marker: str, timeout: float = 60, *, after: int = 0) -> None:
        """Wait until the log (from byte `after` on) contains `marker`, e.g. FastStream's startup line."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process and self.process.poll() is not None:
                msg = f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}"
                raise RuntimeError(msg)
            if self.log_path.exists() and marker.encode() in self.log_path.read_bytes()[after:]:
                return
            await asyncio.sleep(0.2)
        msg = f"{self.name} did not log {marker!r} in {timeout}s:\n{self.log_tail()}"
        raise TimeoutError(msg)

    async def wait_for_http(self, url: str, timeout: float = 60) -> None:
        """Wait until `url` answers 200."""
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=2) as client:
            while time.monotonic() < deadline:
                if self.process and self.process.poll() is not None:
                    msg = f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}"
                    raise RuntimeError(msg)
                try:
                    if (await client.get(url)).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
        msg = f"{self.name} did not answer {url} in {timeout}s:\n{self.log_tail()}"
        raise TimeoutError(msg)


WORKER_READY = "FastStream app started successfully"


def system_processes(
    env: dict[str, str],
    log_dir: Path,
    *,
    mock_port: int,
    sftp_port: int,
    workers: Sequence[str],
    worker_env: Callable[[str], dict[str, str]] | None = None,
) -> dict[str, ServiceProcess]:
    """Mock platforms, gateway and `workers` as processes, not yet started, each logging to `log_dir`.

    `worker_env(name)` gives a worker's environment (default: `env`).
    """
    return {
        "mock-platforms": ServiceProcess(
            "mock-platforms",
            ["mock-platforms", "--port", str(mock_port), "--sftp-port", str(sftp_port)],
            env,
            log_dir / "mock-platforms.log",
        ),
        "gateway": ServiceProcess("gateway", ["gateway"], env, log_dir / "gateway.log"),
        **{
            name: ServiceProcess(
                name, [name], worker_env(name) if worker_env else env, log_dir / f"{name}.log"
            )
            for name in workers
        },
    }
