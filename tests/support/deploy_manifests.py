"""What the deployment files (compose, Kubernetes, Grafana) are checked against: the real CLI and settings."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import typer.main

from services.cli import app
from shared.settings import Settings

REPO = Path(__file__).resolve().parents[2]

# Read by the OpenTelemetry SDK itself (exporter endpoint, headers, service name), not by Settings.
_OTEL_PREFIX = "OTEL_"
_INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?-)(?P<default>[^}]*))?\}")


def activator_command(argv: Sequence[str]) -> str:
    """The name of the command `activator ARGV...` runs, its arguments parsed as the CLI would parse them.

    Raises AssertionError for an unknown command and the CLI's usage error for an unknown option or a
    value of the wrong type. (Typer vendors its own click, so groups are told apart by `commands`.)
    """
    command = typer.main.get_command(app)
    args = list(argv)
    path = ["activator"]
    while (subcommands := getattr(command, "commands", None)) is not None:
        assert args, f"`{' '.join(path)}` needs a subcommand"
        assert args[0] in subcommands, f"`{' '.join(path)}` has no command {args[0]!r}"
        path.append(args.pop(0))
        command = subcommands[path[-1]]
    # Parses options and arguments (types included) without running the command.
    command.make_context(" ".join(path), args)
    return " ".join(path[1:])


def setting_env_names() -> set[str]:
    """Every environment variable Activator reads: Settings fields and the CLI's own env-backed options."""
    names = {name.upper() for name in Settings.model_fields}
    pending = [typer.main.get_command(app)]
    while pending:
        command = pending.pop()
        pending.extend(getattr(command, "commands", {}).values())
        for param in command.params:
            envvars = param.envvar if isinstance(param.envvar, list | tuple) else [param.envvar]
            names.update(name for name in envvars if isinstance(name, str))
    return names


def unknown_env_names(names: Sequence[str]) -> list[str]:
    """The names no part of Activator reads (a typo there silently leaves the default in force)."""
    known = setting_env_names()
    return sorted(name for name in names if name not in known and not name.startswith(_OTEL_PREFIX))


def interpolate_defaults(value: str) -> str:
    """A compose value with `${NAME:-default}` replaced by its default, as on a machine that sets nothing."""
    return _INTERPOLATION.sub(lambda match: match.group("default") or "", value).replace("$$", "$")


def as_mapping(value: Any) -> dict[str, Any]:
    """A YAML mapping, checked to be one."""
    assert isinstance(value, dict), f"expected a mapping, got {type(value).__name__}"
    return value
