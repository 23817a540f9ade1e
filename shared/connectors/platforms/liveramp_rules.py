"""What LiveRamp's Data Seller API documents about Data Marketplace segments, as config and bodies.

Sources and the names Activator chose where the public pages are silent: docs/platform-wire.md (LiveRamp).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from shared.connectors.errors import ErrorClass, PlatformError
from shared.connectors.failures import trim
from shared.connectors.outbound_config import AbsoluteUrl, OutboundConfig

SegmentType = Literal["SYNDICATED", "CUSTOM", "DIRECT"]
# The permitted use cases of docs.liveramp.com "Data Marketplace Permitted Use Cases" (wire names ours).
UseCase = Literal[
    "DIGITAL_AD_TARGETING",
    "TV_TARGETING",
    "AUDIENCE_EXTENSION",
    "CAMPAIGN_ANALYTICS",
    "MEASUREMENT_ENABLEMENT",
]
# Billed at a CPM; the others are flat-fee licences or unpriced and have no pricing field.
CPM_PRICED_USE_CASES: tuple[UseCase, ...] = ("DIGITAL_AD_TARGETING", "TV_TARGETING")
# Custom and direct segments must name the platforms they may go to; syndicated ones must not.
TYPES_WITH_ALLOWED_PLATFORMS = frozenset({"CUSTOM", "DIRECT"})
PRICING_FROZEN = "pricing is frozen once a segment is distributed (LiveRamp modify-v1segment)"


class LiveRampConfig(OutboundConfig):
    """Config of a `liveramp` connection; the segment fields have no documented default, so they are required."""

    api_base_url: AbsoluteUrl
    token_url: AbsoluteUrl
    org_id: str = Field(min_length=1)
    scope: str | None = None
    # The first-party (Activation API) segment a Data Marketplace segment of this connection is built on:
    # the topic's own, named by its attribute `activation_segment_attribute` when it has one, else this one.
    activation_segment_attribute: str | None = Field(default=None, min_length=1)
    activation_segment_id: str | None = Field(default=None, min_length=1, validate_default=True)
    segment_type: SegmentType
    allowed_platforms: tuple[str, ...] | None = Field(default=None, validate_default=True)
    permitted_use_cases: tuple[UseCase, ...] = Field(min_length=1)

    @field_validator("allowed_platforms")
    @classmethod
    def _documented_platform_rule(
        cls, value: tuple[str, ...] | None, info: ValidationInfo
    ) -> tuple[str, ...] | None:
        segment_type = info.data.get("segment_type")
        if segment_type is None:  # its own error is reported
            return value
        if segment_type in TYPES_WITH_ALLOWED_PLATFORMS and not value:
            raise ValueError(f"required with segment_type {segment_type}")
        if segment_type not in TYPES_WITH_ALLOWED_PLATFORMS and value is not None:
            raise ValueError(f"must not be set with segment_type {segment_type}")
        if value is not None and any(not platform.strip() for platform in value):
            raise ValueError("must not contain a blank platform")
        return value

    @field_validator("activation_segment_id")
    @classmethod
    def _an_activation_segment_for_every_topic(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and info.data.get("activation_segment_attribute") is None:
            raise ValueError(
                "required unless activation_segment_attribute names the topic attribute holding each "
                "topic's own activation segment"
            )
        return value

    @field_validator("permitted_use_cases")
    @classmethod
    def _each_use_case_once(cls, value: tuple[UseCase, ...]) -> tuple[UseCase, ...]:
        if len(set(value)) != len(value):
            raise ValueError("must not name a use case twice")
        return value


def pricing(config: LiveRampConfig, cpm: float, currency: str) -> dict[str, Any]:
    """The topic's CPM for every CPM-priced permitted use case, in the connection's currency."""
    prices = [
        {"useCase": use_case, "cpm": cpm}
        for use_case in config.permitted_use_cases
        if use_case in CPM_PRICED_USE_CASES
    ]
    return {"currency": currency, "prices": prices}


def segment_terms(config: LiveRampConfig) -> dict[str, Any]:
    """The type, allowed platforms and restrictions every create and modify carries."""
    terms: dict[str, Any] = {
        "type": config.segment_type,
        "restrictions": {"permittedUseCases": list(config.permitted_use_cases)},
    }
    if config.allowed_platforms is not None:
        terms["allowedPlatforms"] = list(config.allowed_platforms)
    return terms


def activation_segment(config: LiveRampConfig, attributes: Mapping[str, Any]) -> str:
    """The first-party segment the topic's Data Marketplace segment is built on: its own attribute's value,
    else the connection's; a permanent error of the item (no call made) when it has neither."""
    attribute = config.activation_segment_attribute
    own = attributes.get(attribute) if attribute else None
    if isinstance(own, bool) or not isinstance(own, str | int) or not str(own).strip():
        own = None
    if own is not None:
        return str(own).strip()
    if config.activation_segment_id is not None:
        return config.activation_segment_id
    raise PlatformError(
        ErrorClass.PERMANENT,
        f"invalid for LiveRamp: the topic has no attribute {attribute!r} naming its activation segment, "
        "and the connection has no activation_segment_id",
        attempts=0,
    )


def create_body(
    config: LiveRampConfig,
    *,
    activation_segment_id: str,
    name: str,
    description: str,
    cpm: float,
    currency: str,
    location: str,
) -> dict[str, Any]:
    """POST /v1/segments: a Data Marketplace segment on the topic's activation segment."""
    body: dict[str, Any] = {
        "activationSegmentId": activation_segment_id,
        "name": name,
        "description": description,
        **segment_terms(config),
        "pricing": pricing(config, cpm, currency),
    }
    if location:  # without one, LiveRamp uses the provider's default
        body["dataSourceLocation"] = location
    return body


def frozen_price(error: PlatformError) -> PlatformError:
    """LiveRamp's 409 to a distributed segment's new price, as a permanent error naming the rule."""
    return PlatformError(
        ErrorClass.PERMANENT,
        trim(f"price not changed: {PRICING_FROZEN} ({error.message})"),
        status_code=409,
        attempts=error.attempts,
    )
