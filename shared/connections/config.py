"""A connection's config and credentials as they may be saved: the typed model of each direction it has.

Outbound: its platform's config model (shared/connectors/platforms/); inbound: InboundConfig; a
bidirectional connection passes both, and its allowed keys are the union of theirs. The workers read
the same models at run time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, Literal

from pydantic import BaseModel

from shared.connectors.errors import ConnectorConfigError
from shared.connectors.factory import config_model, validate_outbound_config, validate_section
from shared.inbound.config import InboundConfig
from shared.inbound.source import inbound_credentials

Direction = Literal["inbound", "outbound", "bidirectional"]


def allowed_keys(platform: str, direction: Direction) -> frozenset[str]:
    """The config keys a connection of this platform and direction may have."""
    keys: set[str] = set()
    if direction != "outbound":
        keys |= InboundConfig.model_fields.keys()
    if direction != "inbound":
        keys |= config_model(platform).model_fields.keys()
    return frozenset(keys)


def check_connection(
    platform: str,
    direction: Direction,
    auth_type: str,
    credentials: Mapping[str, Any] | None,
    config: Mapping[str, Any],
) -> dict[str, Any]:
    """The config to store, normalised by its models (`"2.0"` becomes 2.0), or ConnectorConfigError
    naming every field at fault. `credentials` None means "unchanged": they are not checked."""
    allowed = allowed_keys(platform, direction)
    problems = [
        (f"config.{key}", f"unknown key; allowed: {', '.join(sorted(allowed))}")
        for key in sorted(set(config) - allowed)
    ]
    validators: list[Callable[[], BaseModel]] = []
    if direction != "outbound":
        validators.append(partial(_inbound, auth_type, credentials, config))
    if direction != "inbound":
        validators.append(partial(validate_outbound_config, platform, auth_type, credentials, config))
    normalised: dict[str, Any] = {}
    for validate in validators:
        try:
            validated = validate()
        except ConnectorConfigError as exc:
            # A bidirectional connection's shared keys (token_url, ...) fail both models alike: once.
            problems.extend(problem for problem in exc.field_errors if problem not in problems)
            continue
        # exclude_unset: the stored config keeps the keys the client sent, not every default.
        normalised.update(validated.model_dump(mode="json", exclude_unset=True))
    if problems:
        summary = "; ".join(f"{field}: {reason}" for field, reason in problems)
        raise ConnectorConfigError(summary, field_errors=tuple(problems))
    return normalised


def _inbound(auth_type: str, credentials: Mapping[str, Any] | None, config: Mapping[str, Any]) -> BaseModel:
    validated: BaseModel = validate_section("config", InboundConfig, config)
    if credentials is not None:
        inbound_credentials(auth_type, credentials)
    return validated
