"""Build a platform client from a connection's platform, auth type, credentials and config."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from shared.connectors.credentials import AuthType
from shared.connectors.deps import ConnectorDeps
from shared.connectors.errors import ConnectorConfigError, UnknownPlatformError
from shared.connectors.http_settings import HttpSettings
from shared.connectors.outbound_config import OutboundConfig
from shared.connectors.platform_entry import PlatformEntry, ValidatedConnection
from shared.connectors.platforms import custom_api, indexexchange, liveramp, tradedesk
from shared.connectors.protocol import PlatformClient

# Adding a platform: its module (config model, client, PLATFORM entry) and one line here.
PLATFORMS: Mapping[str, PlatformEntry[Any]] = {
    entry.name: entry
    for entry in (custom_api.PLATFORM, tradedesk.PLATFORM, liveramp.PLATFORM, indexexchange.PLATFORM)
}


def create_platform_client(
    platform: str,
    auth_type: str,
    credentials: Mapping[str, Any] | None,
    config: Mapping[str, Any],
    *,
    settings: HttpSettings,
    deps: ConnectorDeps | None = None,
) -> PlatformClient:
    """A ready client for the connection, or ConnectorConfigError naming what does not fit."""
    return client_from_entry(_entry(platform), auth_type, credentials, config, settings=settings, deps=deps)


def client_from_entry(
    entry: PlatformEntry[Any],
    auth_type: str,
    credentials: Mapping[str, Any] | None,
    config: Mapping[str, Any],
    *,
    settings: HttpSettings,
    deps: ConnectorDeps | None = None,
) -> PlatformClient:
    """create_platform_client for an entry in hand, e.g. a platform module tested before it is in PLATFORMS."""
    auth = _auth_type(entry, auth_type)
    validated_config = _validated_config(entry, auth, config)
    validated_credentials = validate_section(
        "credentials", entry.credentials_model(auth, validated_config), credentials or {}
    )
    connection = ValidatedConnection(auth, validated_credentials, validated_config)
    return entry.build(connection, settings, deps or ConnectorDeps())


def validate_outbound_config(
    platform: str,
    auth_type: str,
    credentials: Mapping[str, Any] | None,
    config: Mapping[str, Any],
) -> OutboundConfig:
    """Check a ConnectionInput's outbound part; credentials None means 'unchanged, not checked'."""
    entry = _entry(platform)
    auth = _auth_type(entry, auth_type)
    validated_config = _validated_config(entry, auth, config)
    if credentials is not None:
        validate_section("credentials", entry.credentials_model(auth, validated_config), credentials)
    validated: OutboundConfig = validated_config
    return validated


def outbound_config(platform: str, config: Mapping[str, Any]) -> OutboundConfig:
    """A stored connection's outbound config as its platform's typed model (what the push worker reads)."""
    validated: OutboundConfig = validate_section("config", _entry(platform).config_model, config)
    return validated


def config_model(platform: str) -> type[OutboundConfig]:
    """The pydantic model of a platform's config (for OpenAPI schemas and forms)."""
    return _entry(platform).config_model


def _entry(platform: str) -> PlatformEntry[Any]:
    entry = PLATFORMS.get(platform)
    if entry is None:
        known = ", ".join(sorted(PLATFORMS))
        raise UnknownPlatformError(
            f"platform: unsupported platform {platform!r} (supported: {known})",
            field_errors=(("platform", f"unsupported; supported: {known}"),),
        )
    return entry


def _auth_type(entry: PlatformEntry[Any], auth_type: str) -> AuthType:
    for accepted in entry.credentials_models:
        if accepted == auth_type:
            return accepted
    known = ", ".join(entry.credentials_models)
    raise ConnectorConfigError(
        f"auth_type: {entry.name} does not support {auth_type!r} (supported: {known})",
        field_errors=(("auth_type", f"not supported by {entry.name}; supported: {known}"),),
    )


def _validated_config(entry: PlatformEntry[Any], auth_type: AuthType, config: Mapping[str, Any]) -> Any:
    validated = validate_section("config", entry.config_model, config)
    missing = [name for name in entry.required_config.get(auth_type, ()) if getattr(validated, name) is None]
    if missing:
        problems = tuple((f"config.{name}", f"required with auth type {auth_type}") for name in missing)
        raise ConnectorConfigError(_summary(problems), field_errors=problems)
    return validated


def validate_section(section: str, model: type[BaseModel], raw: object) -> Any:
    """`raw` as `model`, or ConnectorConfigError naming each field at fault as `<section>.<field>`."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = tuple(
            (".".join([section, *(str(part) for part in error["loc"])]), _reason(error["msg"]))
            # include_input=False: a credential's value must never reach an error message.
            for error in exc.errors(include_input=False, include_url=False)
        )
    raise ConnectorConfigError(_summary(problems), field_errors=problems)


def _reason(message: str) -> str:
    return message.removeprefix("Value error, ")


def _summary(problems: tuple[tuple[str, str], ...]) -> str:
    return "; ".join(f"{field}: {reason}" for field, reason in problems)
