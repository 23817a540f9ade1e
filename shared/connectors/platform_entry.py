"""How a platform registers itself with the factory: one entry per platform module."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from shared.connectors.credentials import AuthType
from shared.connectors.deps import ConnectorDeps
from shared.connectors.http_settings import HttpSettings
from shared.connectors.outbound_config import OutboundConfig
from shared.connectors.protocol import PlatformClient

ConfigT = TypeVar("ConfigT", bound=OutboundConfig)


@dataclass(frozen=True)
class ValidatedConnection(Generic[ConfigT]):
    """A connection whose credentials and config passed their platform's models."""

    auth_type: AuthType
    # The model registered for auth_type in the platform's entry.
    credentials: Any
    config: ConfigT


@dataclass(frozen=True)
class PlatformEntry(Generic[ConfigT]):
    """A platform's factory entry: its config model, accepted credentials per auth type, and builder."""

    name: str
    config_model: type[ConfigT]
    credentials_models: Mapping[AuthType, type[BaseModel]]
    build: Callable[[ValidatedConnection[ConfigT], HttpSettings, ConnectorDeps], PlatformClient]
    # Config fields that become mandatory with a given auth type, e.g. token_url for oauth2.
    required_config: Mapping[AuthType, tuple[str, ...]] = field(default_factory=dict)
    # When the credentials' shape depends on the config (Index Exchange: SFTP login or S3 keys).
    credentials_for_config: Callable[[ConfigT, AuthType], type[BaseModel]] | None = None

    def credentials_model(self, auth_type: AuthType, config: ConfigT) -> type[BaseModel]:
        """The model a connection's credentials must fit, given its auth type and validated config."""
        if self.credentials_for_config is not None:
            return self.credentials_for_config(config, auth_type)
        return self.credentials_models[auth_type]
