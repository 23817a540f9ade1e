"""docker-compose.yml and the Dockerfile, checked without a Docker engine.

The file is validated against the compose-spec JSON schema that check-jsonschema ships
(`--builtin-schema vendor.compose-spec`), then against what the schema cannot know: the commands
exist in the `activator` CLI, the settings exist, the dependencies wait for the right things, and
the workers can be scaled. Secrets have no fallback in the file: the services are checked with the
values deploy/local/compose_env.sh generates, as a first `docker compose up` after it would get them.
"""

from __future__ import annotations

import functools
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from services.gateway.consumer_lag import WORKER_TOPICS
from shared.db.orgs import KEY_PREFIX
from shared.settings import Settings, encryption_key_problem
from tests.support.deploy_manifests import REPO, activator_command, as_mapping, unknown_env_names

COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
ACTIVATOR_IMAGE = "activator:local"
# One per consumer group (WORKER_TOPICS): each can run as many replicas as its topic has partitions.
WORKERS = ("push-worker", "sync-worker", "status-recorder", "intake")
COMPOSE_ENV_SCRIPT = REPO / "deploy" / "local" / "compose_env.sh"
# What compose must refuse to start without, instead of falling back to a value everyone knows.
SECRETS = ("CREDENTIALS_ENCRYPTION_KEY", "ACTIVATOR_DEV_API_KEY", "POSTGRES_PASSWORD")
# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?message}, ${NAME?message}, as compose reads them.
_VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


class MissingVariable(LookupError):
    """A `${NAME:?message}` with NAME unset: compose stops with the message."""


def _interpolate(value: str, env: Mapping[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        name, op, arg = match.group("name"), match.group("op") or "", match.group("arg") or ""
        if env.get(name) or (name in env and not op.startswith(":")):
            return env[name]
        if op.endswith("?"):
            raise MissingVariable(f"{name}: {arg}")
        return arg

    return _VARIABLE.sub(one, value).replace("$$", "$")


def _strings(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)
    elif isinstance(node, str):
        yield node


def _run_compose_env(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(COMPOSE_ENV_SCRIPT), str(path)], capture_output=True, text=True, check=True, timeout=30
    )


def _read_env_file(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


@functools.cache
def _generated_env() -> dict[str, str]:
    """The values a first `deploy/local/compose_env.sh` writes, with nothing else set on the host."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / ".env"
        _run_compose_env(path)
        return _read_env_file(path)


def _compose() -> dict[str, Any]:
    return as_mapping(yaml.safe_load(COMPOSE_FILE.read_text()))


def _services() -> dict[str, dict[str, Any]]:
    return {name: as_mapping(service) for name, service in as_mapping(_compose()["services"]).items()}


def _activator_services() -> dict[str, dict[str, Any]]:
    return {name: service for name, service in _services().items() if service.get("image") == ACTIVATOR_IMAGE}


def _environment(service: dict[str, Any]) -> dict[str, str]:
    return {
        name: _interpolate(str(value), _generated_env())
        for name, value in as_mapping(service["environment"]).items()
    }


def _seconds(duration: str) -> float:
    match = re.fullmatch(r"(\d+)(s|m)", duration)
    assert match, f"unexpected duration {duration!r}"
    return int(match.group(1)) * (60 if match.group(2) == "m" else 1)


def _schema_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_compose_file_satisfies_the_compose_spec_schema() -> None:
    result = _schema_check(COMPOSE_FILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_rejects_a_broken_compose_file(tmp_path: Path) -> None:
    broken = _compose()
    broken["services"]["gateway"]["depends_on"]["kafka"]["condition"] = "service_started_eventually"
    path = tmp_path / "docker-compose.yml"
    path.write_text(yaml.safe_dump(broken))
    result = _schema_check(path)
    assert result.returncode != 0
    assert "service_started_eventually" in result.stdout + result.stderr


def test_every_activator_service_runs_a_command_of_the_cli() -> None:
    services = _activator_services()
    assert set(services) == {"migrate", "gateway", "mock-platforms", *WORKERS}
    for name, service in services.items():
        # Raises for an unknown command or option (`--hots 0.0.0.0`, say) or a value of the wrong type.
        assert activator_command(service["command"]) == name


def test_every_environment_variable_is_one_activator_reads() -> None:
    for name, service in _activator_services().items():
        assert unknown_env_names(list(_environment(service))) == [], name


def test_secrets_have_no_fallback_and_a_missing_one_says_how_to_set_it() -> None:
    """A first `docker compose up` without them stops with the message, instead of running on known keys."""
    text = COMPOSE_FILE.read_text()
    for name in SECRETS:
        uses = [match for match in _VARIABLE.finditer(text) if match.group("name") == name]
        assert uses, f"{name} is not taken from the host's environment"
        for use in uses:
            assert use.group("op") == ":?", f"{use.group(0)} has a fallback"
            assert "deploy/local/compose_env.sh" in use.group("arg"), use.group(0)
    missing: set[str] = set()
    for value in _strings(_compose()):
        try:
            _interpolate(value, {})
        except MissingVariable as error:
            missing.add(str(error).split(":", 1)[0])
    assert missing == set(SECRETS)


def test_no_secret_has_a_value_written_in_the_file() -> None:
    secret_like = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY$|API_KEY")
    for value in _strings(_compose()):
        for match in _VARIABLE.finditer(value):
            if secret_like.search(match.group("name")) and match.group("op") in (":-", "-"):
                assert not match.group("arg"), f"{match.group(0)} falls back to a written secret"
    for name, service in _services().items():
        for variable, value in as_mapping(service.get("environment", {})).items():
            if secret_like.search(str(variable)):
                assert str(value).startswith("${"), f"{name}: {variable} is written in the file"


def test_services_start_with_the_generated_secrets() -> None:
    """With what compose_env.sh writes, the key passes the services' own check (else they exit with status 2)."""
    generated = _generated_env()
    assert set(generated) == set(SECRETS)
    for service in _activator_services().values():
        assert encryption_key_problem(_environment(service)["CREDENTIALS_ENCRYPTION_KEY"]) is None
    dev_key = _environment(_services()["gateway"])["ACTIVATOR_DEV_API_KEY"]
    assert dev_key.startswith(KEY_PREFIX)
    assert len(dev_key) >= 40
    assert re.fullmatch(r"[0-9a-f]{32,}", generated["POSTGRES_PASSWORD"]), "it goes into a URL unescaped"


def test_compose_env_keeps_what_is_set_and_prints_no_value(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("CREDENTIALS_ENCRYPTION_KEY=mine-kept-as-it-is-0042")  # no newline at the end
    first = _run_compose_env(path)
    written = _read_env_file(path)
    assert written["CREDENTIALS_ENCRYPTION_KEY"] == "mine-kept-as-it-is-0042"
    assert set(written) == set(SECRETS)
    assert path.stat().st_mode & 0o777 == 0o600
    second = _run_compose_env(path)
    assert _read_env_file(path) == written
    assert second.stderr == ""
    for value in written.values():
        assert value not in first.stdout + first.stderr
    assert "ACTIVATOR_DEV_API_KEY" in first.stderr
    assert _generated_env() != written, "the values are random"


def test_services_reach_the_kafka_and_postgres_of_the_file() -> None:
    services = _services()
    kafka_env = services["kafka"]["environment"]
    advertised = dict(
        listener.split("://", 1) for listener in kafka_env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    )
    postgres_env = _environment(services["postgres"])
    for name, service in _activator_services().items():
        environment = _environment(service)
        assert environment["KAFKA_BOOTSTRAP_SERVERS"] == advertised["PLAINTEXT"], name
        url = urlsplit(environment["DATABASE_URL"])
        assert (url.hostname, url.port) == ("postgres", 5432), name
        assert (url.username, url.password, url.path) == (
            postgres_env["POSTGRES_USER"],
            postgres_env["POSTGRES_PASSWORD"],
            f"/{postgres_env['POSTGRES_DB']}",
        ), name


def test_infrastructure_images_are_kraft_kafka_and_postgres_15() -> None:
    services = _services()
    assert services["kafka"]["image"] == "apache/kafka:4.1.1"
    kafka_env = services["kafka"]["environment"]
    assert set(kafka_env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "ZOOKEEPER" not in " ".join(kafka_env)
    # The services create their topics with KAFKA_PARTITIONS; a typo must not create a 1-partition topic.
    assert kafka_env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert services["postgres"]["image"] == "postgres:15"


def test_dependencies_wait_for_health_and_migrations() -> None:
    services = _services()
    for name, service in services.items():
        for target, rule in as_mapping(service.get("depends_on", {})).items():
            condition = rule["condition"]
            if condition == "service_healthy":
                assert "healthcheck" in services[target], (
                    f"{name} waits for {target}, which has no healthcheck"
                )
            elif condition == "service_completed_successfully":
                assert services[target].get("restart") == "no", (
                    f"{target} must run once for {name} to wait on it"
                )
    for name in ("gateway", *WORKERS):
        assert services[name]["depends_on"] == {
            "kafka": {"condition": "service_healthy"},
            "postgres": {"condition": "service_healthy"},
            "migrate": {"condition": "service_completed_successfully"},
        }, name
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}


def test_every_long_running_service_has_a_healthcheck_that_probes_itself() -> None:
    services = _services()
    for name, service in services.items():
        if name != "migrate":
            assert "healthcheck" in service, name
    gateway = services["gateway"]
    assert "/readyz" in " ".join(gateway["healthcheck"]["test"])
    assert f":{_environment(gateway)['ACTIVATOR_GATEWAY_PORT']}/" in " ".join(gateway["healthcheck"]["test"])
    for name in WORKERS:
        port = _environment(services[name])["METRICS_PORT"]
        assert int(port) > 0, f"{name} serves no metrics, so its healthcheck has nothing to probe"
        # /readyz: the worker is in its consumer group and Postgres answers (shared/messaging/worker_health.py).
        assert f"127.0.0.1:{port}/readyz" in " ".join(services[name]["healthcheck"]["test"]), name


def test_workers_can_be_scaled() -> None:
    """`docker compose up --scale push-worker=3` fails on a fixed container name or host port."""
    services = _services()
    assert not [name for name, service in services.items() if "container_name" in service]
    for name in WORKERS:
        assert "ports" not in services[name], name
    assert set(WORKER_TOPICS) == set(WORKERS)


def test_workers_get_longer_than_their_graceful_timeout_to_stop() -> None:
    """Compose's default (10 s) would SIGKILL a worker mid-batch; the run would wait for redelivery."""
    services = _services()
    for name in WORKERS:
        graceful = float(
            _environment(services[name]).get(
                "WORKER_GRACEFUL_TIMEOUT_S", Settings().worker_graceful_timeout_s
            )
        )
        assert _seconds(services[name]["stop_grace_period"]) > graceful, name


def test_dockerfile_builds_a_non_root_image_from_the_lock_file() -> None:
    text = DOCKERFILE.read_text()
    stages = re.findall(r"^FROM (\S+)", text, flags=re.MULTILINE)
    assert stages, "no FROM line"
    assert all(stage == "python:3.11-slim" for stage in stages)
    assert "uv sync --frozen --no-dev" in text
    users = re.findall(r"^USER (\S+)", text, flags=re.MULTILINE)
    assert users, "the image runs as root"
    assert users[-1].split(":")[0] not in {"0", "root"}
    assert re.search(r'^ENTRYPOINT \["activator"\]$', text, flags=re.MULTILINE)
    makefile_uv = re.search(r"^UV_VERSION := (\S+)$", (REPO / "Makefile").read_text(), flags=re.MULTILINE)
    docker_uv = re.search(r"^ARG UV_VERSION=(\S+)$", text, flags=re.MULTILINE)
    assert makefile_uv, "no UV_VERSION in the Makefile"
    assert docker_uv, "no ARG UV_VERSION in the Dockerfile"
    assert docker_uv.group(1) == makefile_uv.group(1), (
        "the image and `make install` use different uv versions"
    )


@pytest.mark.parametrize("path", ["pyproject.toml", "uv.lock", "README.md", "services", "shared"])
def test_what_the_dockerfile_copies_exists_and_is_not_docker_ignored(path: str) -> None:
    assert re.search(rf"^COPY .*\b{re.escape(path)}\b", DOCKERFILE.read_text(), flags=re.MULTILINE), path
    assert (REPO / path).exists()
    ignored = {line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()}
    assert path not in ignored
