"""Connections as the API shows them: what may be saved, what is read back, a test's result."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field

from services.gateway.schemas.base import ApiModel

Platform = Literal["custom_api", "indexexchange", "liveramp", "tradedesk"]
Direction = Literal["inbound", "outbound", "bidirectional"]
AuthType = Literal["oauth2", "bearer", "api_key", "header", "none"]


class ConnectionInput(ApiModel):
    name: str = Field(min_length=1, max_length=200)
    platform: Platform
    direction: Direction
    auth_type: AuthType
    auth_credentials: dict[str, str] | None = None
    config: dict[str, Any]
    enabled: bool = True

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Acme REST",
                    "platform": "custom_api",
                    "direction": "outbound",
                    "authType": "api_key",
                    "authCredentials": {"api_key": "…"},
                    "config": {
                        "api_base_url": "https://api.example.com",
                        "default_cpm": 2.5,
                        "currency": "USD",
                    },
                }
            ]
        }
    )


class LastRunOut(ApiModel):
    id: uuid.UUID
    kind: Literal["push", "sync"]
    status: str
    finished_at: datetime | None


class ConnectionOut(ApiModel):
    id: uuid.UUID
    name: str
    platform: Platform
    direction: Direction
    auth_type: AuthType
    config: dict[str, Any]
    enabled: bool
    has_credentials: bool
    created_at: datetime
    updated_at: datetime
    last_run: LastRunOut | None = Field(default=None, description="The connection's newest run")
    last_success_at: datetime | None = Field(
        default=None, description="When the connection's newest succeeded run finished"
    )


class ConnectionCheckOut(ApiModel):
    direction: Literal["inbound", "outbound"]
    success: bool
    error: str | None = None


class ConnectionTestOut(ApiModel):
    """The guide's `{success, error}`; `checks` reports each direction of a bidirectional connection."""

    success: bool
    error: str | None = None
    checks: list[ConnectionCheckOut] = Field(default_factory=list)
