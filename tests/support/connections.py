"""Connection bodies for tests that need a saved connection, not a platform answering behind it."""

from __future__ import annotations

from typing import Any

NOTHING_LISTENS = "http://127.0.0.1:9"  # the discard port: saved and validated, never reached


def outbound_custom_api(name: str, **config: Any) -> dict[str, Any]:
    """An outbound custom_api ConnectionInput without credentials, to an address where nothing listens."""
    return {
        "name": name,
        "platform": "custom_api",
        "direction": "outbound",
        "authType": "none",
        "config": {
            "api_base_url": f"{NOTHING_LISTENS}/custom",
            "default_cpm": 1,
            "currency": "USD",
            **config,
        },
    }
