"""The inbound half of a connection test: one read-only request to the source, as a sync would send it."""

from __future__ import annotations

from shared.connectors.protocol import ConnectionTestResult
from shared.inbound.checkpoint import SyncCheckpoint
from shared.inbound.source import InboundSource, SourceError


async def probe_source(source: InboundSource, *, has_count_endpoint: bool) -> ConnectionTestResult:
    """Ask the count endpoint, or else for the first page; success when the answer is usable."""
    try:
        if has_count_endpoint:
            await source.count(None)
        else:
            await source.page(SyncCheckpoint())
    except SourceError as exc:
        return ConnectionTestResult(success=False, error=exc.message)
    return ConnectionTestResult(success=True)
