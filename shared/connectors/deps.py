"""The seams of a platform client that its caller may replace: transport, time, records, egress policy."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import httpx

from shared.connectors.auth import Clock
from shared.connectors.protocol import PlatformSegment
from shared.connectors.retry import Sleep
from shared.connectors.throttle import ConnectionThrottle

SegmentLookup = Callable[[str], Awaitable[PlatformSegment | None]]
# Called with a URL ("https://host:443", "sftp://host:22") before connecting; raises to refuse it.
# May return the addresses it vetted: a client that connects itself (SFTP) then connects to those,
# never resolving the name again (DNS rebinding). HTTP re-checks at connect time in GuardedTransport.
UrlGuard = Callable[[str], Awaitable[Sequence[str] | None]]


class TaxonomyUploader(Protocol):
    """Writes one file to the platform's drop; raises PlatformError on failure."""

    async def upload(self, file_name: str, content: bytes) -> None:
        """Store `content` as `file_name` in the platform's drop directory."""
        ...

    async def check(self) -> None:
        """Log in and look at the drop directory without writing; raises PlatformError on failure."""
        ...


async def no_recorded_segment(_platform_segment_id: str) -> PlatformSegment | None:
    """Default segment lookup for file-based platforms: Activator holds no record."""
    return None


@dataclass(frozen=True)
class ConnectorDeps:
    """What a caller may swap: transport (tests), sleep and clock (fake time), records, egress guard."""

    transport: httpx.AsyncBaseTransport | None = None
    sleep: Sleep = asyncio.sleep
    clock: Clock = time.monotonic
    # Index Exchange's get_segment and deactivation read Activator's activation records through this.
    segment_lookup: SegmentLookup = no_recorded_segment
    url_guard: UrlGuard | None = None
    # Index Exchange: replaces the SFTP upload (tests, or an S3 drop).
    taxonomy_uploader: TaxonomyUploader | None = None
    # The connection's rate budget and Retry-After pause, shared by all its requests.
    throttle: ConnectionThrottle | None = None
