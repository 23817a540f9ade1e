"""Limits and timeouts of platform calls: a leaf (pydantic only), so the services' Settings can build one
without importing the HTTP client, and the client's tracing, in turn."""

from __future__ import annotations

from pydantic import BaseModel, Field


class HttpSettings(BaseModel):
    """Limits and timeouts of platform calls; the services' Settings builds one from the environment."""

    timeout_s: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=3, ge=1)
    backoff_base_s: float = Field(default=1.0, ge=0)
    retry_after_cap_s: float = Field(default=60.0, ge=0)
    max_connections: int = Field(default=20, ge=1)
