"""Without a usable CREDENTIALS_ENCRYPTION_KEY the services that hold credentials refuse to start.

Each is started as a process, as an operator would, with the key unset, blank, short or a sample
config's placeholder: it exits at once with status 2 and one line naming the variable, before it
connects to anything (the Postgres and Kafka addresses given here lead nowhere). The status-recorder,
the intake and the mock platforms never see a credential and need no key.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support.processes import free_port

pytestmark = pytest.mark.e2e

SERVICES = ["gateway", "push-worker", "sync-worker"]
UNUSABLE = {
    "unset": None,
    "blank": "",
    "short": "s3cr3t-key",
    "placeholder": "change-me-in-production-please",
}


def _start(service: str, key: str | None) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if name != "CREDENTIALS_ENCRYPTION_KEY"}
    nowhere = free_port()
    env |= {
        "DATABASE_URL": f"postgresql://activator:activator@127.0.0.1:{nowhere}/activator",
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{nowhere}",
        "ACTIVATOR_GATEWAY_PORT": str(free_port()),
    }
    if key is not None:
        env["CREDENTIALS_ENCRYPTION_KEY"] = key
    return subprocess.run(
        [sys.executable, "-m", "services", service],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


CASES = [(service, variant) for service in SERVICES for variant in ("unset", "placeholder")]
CASES += [("push-worker", "blank"), ("push-worker", "short")]


@pytest.mark.parametrize(("service", "variant"), CASES)
def test_a_service_refuses_to_start_without_a_usable_key(service: str, variant: str) -> None:
    key = UNUSABLE[variant]
    result = _start(service, key)
    assert result.returncode == 2, (result.returncode, result.stdout[-2000:], result.stderr[-2000:])
    message = result.stderr.strip()
    assert message.startswith(f"activator {service}: refusing to start: CREDENTIALS_ENCRYPTION_KEY "), message
    assert "Traceback" not in result.stderr
    assert len(message.splitlines()) == 1
    if key:
        assert key not in result.stdout + result.stderr
