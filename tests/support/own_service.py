"""What a test's own Kafka or Postgres shares: a deploy/local script run in its own state dir on a free port."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

LOCAL_SCRIPTS = Path(__file__).resolve().parents[2] / "deploy" / "local"


@dataclass
class OwnService:
    """A service started by `deploy/local/<script>`; stopping it keeps its data so it can come back."""

    state_dir: Path
    port: int

    script: ClassVar[Path]
    # ACTIVATOR_<name>_PORT and ACTIVATOR_<name>_KEEP, as the script reads them.
    env_name: ClassVar[str]
    # Left out of the script's environment: with them it would use the suite's instance, not its own.
    suite_env: ClassVar[frozenset[str]]

    def script_env(self) -> dict[str, str]:
        """Further settings of the script beyond its state dir, port and keep flag."""
        return {}

    def _env(self, *, keep_data: bool) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if key not in self.suite_env}
        env.update(
            {
                "ACTIVATOR_STATE_DIR": str(self.state_dir),
                f"ACTIVATOR_{self.env_name}_PORT": str(self.port),
                f"ACTIVATOR_{self.env_name}_KEEP": "1" if keep_data else "0",
                **self.script_env(),
            }
        )
        return env

    async def _run(self, command: str, *, keep_data: bool = True) -> None:
        process = await asyncio.create_subprocess_exec(
            str(self.script),
            command,
            env=self._env(keep_data=keep_data),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await process.communicate()
        if process.returncode != 0:
            text = output.decode(errors="replace")[-3000:]
            msg = f"{self.script.name} {command} failed ({process.returncode}):\n{text}"
            raise RuntimeError(msg)

    async def start(self) -> None:
        """Start (or restart) the service and wait until it answers (the script waits)."""
        await self._run("start")

    async def stop(self, *, keep_data: bool = True) -> None:
        """Stop the service; with `keep_data` it can start again with what it held."""
        await self._run("stop", keep_data=keep_data)
