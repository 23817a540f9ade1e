"""What every outbound connection's config has in common, and how a platform registers itself."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Generic, TypeVar

import httpx
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from shared.connectors.auth import Clock
from shared.connectors.credentials import AuthType
from shared.connectors.http import HttpSettings
from shared.connectors.platforms.taxonomy_upload import TaxonomyUploader
from shared.connectors.protocol import PlatformClient, PlatformSegment
from shared.connectors.retry import Sleep


def _http_url(value: str) -> str:
    url = httpx.URL(value)
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError("must be an absolute http(s) URL")
    return value.rstrip("/")


def _path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError("must start with '/'")
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]
UrlPath = Annotated[str, AfterValidator(_path)]


class OutboundConfig(BaseModel):
    """Pricing and naming every outbound platform has; other keys (e.g. inbound settings) are ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    default_cpm: float = Field(ge=0)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    output_template_key: str | None = None


SegmentLookup = Callable[[str], Awaitable[PlatformSegment | None]]


async def no_recorded_segment(_platform_segment_id: str) -> PlatformSegment | None:
    """Default segment lookup for file-based platforms: Activator holds no record."""
    return None


@dataclass(frozen=True)
class ConnectorDeps:
    """Seams a caller may replace: transport (tests, egress policy), sleep and clock (fake time), records."""

    transport: httpx.AsyncBaseTransport | None = None
    sleep: Sleep = asyncio.sleep
    clock: Clock = time.monotonic
    segment_lookup: SegmentLookup = no_recorded_segment
    # Index Exchange: replaces the SFTP upload (tests, or an S3 drop).
    taxonomy_uploader: TaxonomyUploader | None = None


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
