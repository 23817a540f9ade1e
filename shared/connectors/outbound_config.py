"""What every outbound connection's config has in common, and the URL types config models use."""

from __future__ import annotations

from typing import Annotated

import httpx
from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _http_url(value: str) -> str:
    url = httpx.URL(value)
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError("must be an absolute http(s) URL")
    return value.rstrip("/")


def _path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError("must start with '/'")
    return value


AbsoluteUrl = Annotated[str, AfterValidator(_http_url)]
UrlPath = Annotated[str, AfterValidator(_path)]


class OutboundConfig(BaseModel):
    """Pricing and naming every outbound platform has; other keys (e.g. inbound settings) are ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    default_cpm: float = Field(ge=0)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    output_template_key: str | None = None
