"""What every outbound connection's config has in common, and the URL types config models use."""

from __future__ import annotations

from typing import Annotated

import httpx
from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _absolute(value: str) -> str:
    try:
        url = httpx.URL(value)
    except httpx.InvalidURL as exc:
        raise ValueError(f"must be an absolute http(s) URL ({exc})") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError("must be an absolute http(s) URL, e.g. https://api.example.com")
    return value


def _http_url(value: str) -> str:
    return _absolute(value).rstrip("/")


def _url_or_path(value: str) -> str:
    if not value.strip():
        raise ValueError("must be an absolute http(s) URL or a path")
    try:
        scheme = httpx.URL(value).scheme
    except httpx.InvalidURL as exc:
        raise ValueError(f"must be an absolute http(s) URL or a path ({exc})") from None
    # A scheme or a `//host` makes it a URL of its own, which must then be absolute http(s).
    return _absolute(value) if scheme or value.startswith("//") else value


def _path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError("must start with '/'")
    return value


# An API root: requests are made to paths below it, so a trailing slash is dropped.
AbsoluteUrl = Annotated[str, AfterValidator(_http_url)]
# A URL requested as written (an inbound source's listing: its trailing slash may matter).
RequestUrl = Annotated[str, AfterValidator(_absolute)]
# An absolute http(s) URL, or a path resolved against the connection's base URL (RFC 3986).
UrlOrPath = Annotated[str, AfterValidator(_url_or_path)]
UrlPath = Annotated[str, AfterValidator(_path)]


class OutboundConfig(BaseModel):
    """What every outbound platform's config has: pricing, naming and the push worker's budget.

    Unknown keys are refused when a connection is saved (shared/connections/config.py); here they are
    ignored, so a bidirectional config's inbound keys, or a key stored before that rule, do not stop a run.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    default_cpm: float = Field(ge=0)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    output_template_key: str | None = Field(default=None, min_length=1)
    # Requests per second to the platform, across the connection's batches; None: unlimited.
    rate_limit_rps: float | None = Field(default=None, gt=0)
    # Platform calls in flight at once; None: the PUSH_CONCURRENCY_PER_CONNECTION setting.
    max_concurrency: int | None = Field(default=None, ge=1)
    # Sent with each created segment where the platform has such a field (Custom API, LiveRamp).
    data_source_location: str = ""
