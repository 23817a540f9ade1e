"""The org's API keys as the API shows them: never a secret, except once in the answer that made it."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import ConfigDict, Field

from services.gateway.schemas.base import ApiModel
from shared.db.orgs import KeyScope


class ApiKeyInput(ApiModel):
    """The scope of a new key: `admin` everything, `read` every read and no change."""

    scope: KeyScope = KeyScope.READ

    model_config = ConfigDict(json_schema_extra={"examples": [{"scope": "read"}]})


class ApiKeyOut(ApiModel):
    id: uuid.UUID
    prefix: str = Field(description="The key's first 8 characters, to tell keys apart")
    scope: KeyScope
    created_at: datetime
    in_use: bool = Field(description="Whether this request is authenticated by this key (or its session)")


class ApiKeyCreated(ApiModel):
    """A new key: `secret` is shown here once and is not stored anywhere but as its digest."""

    key: ApiKeyOut
    secret: str
    replaced_key_id: uuid.UUID | None = Field(default=None, description="The key a rotation revoked")
