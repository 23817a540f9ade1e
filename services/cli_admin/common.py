"""What every operator command starts with: the settings, and logging configured from them."""

from __future__ import annotations

from shared.logging import configure_logging
from shared.settings import Settings, load_settings


def cli_settings() -> Settings:
    """The settings from the environment, with logging configured as they say."""
    settings = load_settings()
    configure_logging(settings.activator_log_level, settings.activator_log_format)
    return settings
