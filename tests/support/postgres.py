"""A PostgreSQL cluster of a test's own (deploy/local/postgres.sh on a free port), for tests that stop it."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import free_port

POSTGRES_SH = Path(__file__).resolve().parents[2] / "deploy" / "local" / "postgres.sh"


@dataclass
class OwnPostgres:
    """A throwaway cluster with its own state dir; stopping it keeps its data so it can come back."""

    state_dir: Path
    port: int

    @classmethod
    def on_free_port(cls, state_dir: Path) -> OwnPostgres:
        """A cluster that will listen on a loopback port free right now."""
        return cls(state_dir, free_port())

    @property
    def url(self) -> str:
        """The `activator` database of this cluster (what postgres.sh `url` prints)."""
        return f"postgresql://activator:activator@127.0.0.1:{self.port}/activator"

    def _env(self, *, keep_data: bool) -> dict[str, str]:
        # Without DATABASE_URL the script manages its own cluster instead of using the given one.
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"DATABASE_URL", "ACTIVATOR_PG_LOCAL"}
        }
        env.update(
            {
                "ACTIVATOR_STATE_DIR": str(self.state_dir),
                "ACTIVATOR_PG_PORT": str(self.port),
                "ACTIVATOR_PG_KEEP": "1" if keep_data else "0",
            }
        )
        return env

    async def _run(self, command: str, *, keep_data: bool = True) -> None:
        process = await asyncio.create_subprocess_exec(
            str(POSTGRES_SH),
            command,
            env=self._env(keep_data=keep_data),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await process.communicate()
        if process.returncode != 0:
            text = output.decode(errors="replace")[-3000:]
            msg = f"postgres.sh {command} failed ({process.returncode}):\n{text}"
            raise RuntimeError(msg)

    async def start(self) -> None:
        """Start (or restart) the cluster and wait until it accepts connections."""
        await self._run("start")

    async def stop(self, *, keep_data: bool = True) -> None:
        """Stop the cluster (fast shutdown: open sessions are cut); with `keep_data` it can start again."""
        await self._run("stop", keep_data=keep_data)
