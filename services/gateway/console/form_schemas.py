"""The JSON schemas the console generates its connection forms from: the models the API validates with."""

from __future__ import annotations

from typing import Any

from shared.connectors.factory import PLATFORMS
from shared.inbound.config import InboundConfig
from shared.inbound.source import CREDENTIALS_MODELS as INBOUND_CREDENTIALS


def _credentials(models: Any) -> dict[str, Any]:
    return {auth_type: model.model_json_schema() for auth_type, model in models.items()}


def connection_form_schemas() -> dict[str, Any]:
    """Per platform: its outbound config and credentials by auth type; and the inbound side's."""
    return {
        "outbound": {
            name: {
                "config": entry.config_model.model_json_schema(),
                "credentials": _credentials(entry.credentials_models),
            }
            for name, entry in sorted(PLATFORMS.items())
        },
        "inbound": {
            "config": InboundConfig.model_json_schema(),
            "credentials": _credentials(INBOUND_CREDENTIALS),
        },
    }
