"""The `activator` CLI run as an operator runs it: a process of `python -m services` on a test's settings."""

from __future__ import annotations

import asyncio
import re
import sys

from shared.settings import Settings
from tests.support.infra import service_env


async def _run(settings: Settings, args: tuple[str, ...], timeout: float) -> tuple[int | None, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services",
        *args,
        env=service_env(settings),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
    return process.returncode, stdout.decode(), stderr.decode()


async def activator(settings: Settings, *args: str, timeout: float = 120) -> str:
    """The CLI's stdout; it must exit 0."""
    returncode, stdout, stderr = await _run(settings, args, timeout)
    assert returncode == 0, stderr
    return stdout


async def activator_fails(settings: Settings, *args: str, timeout: float = 120) -> str:
    """The CLI's stderr; it must exit non-zero."""
    returncode, _stdout, stderr = await _run(settings, args, timeout)
    assert returncode != 0
    return stderr


def output_field(output: str, name: str) -> str:
    """The value of a `name=value` line the CLI printed."""
    match = re.search(rf"^{name}=(\S+)$", output, re.MULTILINE)
    assert match, output
    return match.group(1)
