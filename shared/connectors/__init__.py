"""Outbound platform connectors: auth, resilient HTTP, platform clients, factory and batches."""

from shared.connectors.auth import reset_token_cache
from shared.connectors.batch import (
    BatchPlatformClient,
    CreateOperation,
    DeactivateOperation,
    SegmentOperation,
    SegmentOutcome,
    UpdateOperation,
    apply_batch,
)
from shared.connectors.deps import ConnectorDeps, SegmentLookup, UrlGuard
from shared.connectors.errors import ConnectorConfigError, ErrorClass, PlatformError, UnknownPlatformError
from shared.connectors.factory import (
    PLATFORMS,
    config_model,
    create_platform_client,
    validate_outbound_config,
)
from shared.connectors.http_settings import HttpSettings
from shared.connectors.outbound_config import OutboundConfig
from shared.connectors.protocol import (
    ConnectionTestResult,
    CreateSegmentParams,
    PlatformClient,
    PlatformSegment,
    UpdateSegmentParams,
)

__all__ = [
    "PLATFORMS",
    "BatchPlatformClient",
    "ConnectionTestResult",
    "ConnectorConfigError",
    "ConnectorDeps",
    "CreateOperation",
    "CreateSegmentParams",
    "DeactivateOperation",
    "ErrorClass",
    "HttpSettings",
    "OutboundConfig",
    "PlatformClient",
    "PlatformError",
    "PlatformSegment",
    "SegmentLookup",
    "SegmentOperation",
    "SegmentOutcome",
    "UnknownPlatformError",
    "UpdateOperation",
    "UpdateSegmentParams",
    "UrlGuard",
    "apply_batch",
    "config_model",
    "create_platform_client",
    "reset_token_cache",
    "validate_outbound_config",
]
