"""What The Trade Desk documents about elements and data rates, as config and pure checks (docs/platform-wire.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, Self

from pydantic import Field, field_validator, model_validator

from shared.connectors.errors import ErrorClass, PlatformError
from shared.connectors.failures import trim
from shared.connectors.outbound_config import AbsoluteUrl, OutboundConfig

# Field limits of POST/PUT /v3/thirdpartydata, as the Tealium connector docs quote TTD's.
DISPLAY_NAME_MAX = 256
DESCRIPTION_MAX = 4_000
PROVIDER_ELEMENT_ID_MAX = 512
FORBIDDEN_IN_DISPLAY_NAME = ("\t", "'", '"', "^")
# The base element every provider's taxonomy starts from.
ROOT_ELEMENT = "ROOT"
# POST /v3/datarate/batch takes at most this many rates.
MAX_RATES_PER_BATCH = 5_000
# TTD advises at most four concurrent callers per endpoint.
ADVISED_CONCURRENCY = 4

RateLevel = Literal["System", "Partner", "Advertiser"]
RateType = Literal["CPM", "PercentOfMediaCost", "Hybrid"]
BatchState = Literal["active", "pending", "failed"]


class TradeDeskConfig(OutboundConfig):
    """Config of a `tradedesk` connection."""

    api_base_url: AbsoluteUrl = "https://api.thetradedesk.com"
    provider_id: str = Field(min_length=1)
    # The parent of every element we create; None means the taxonomy's ROOT.
    parent_element_id: str | None = None
    # Every data rate names the provider-managed brand it is sold under.
    brand_id: str = Field(min_length=1)
    rate_level: RateLevel = "Partner"
    rate_type: RateType = "CPM"
    # Sent as PartnerId / AdvertiserId; required by the Partner / Advertiser rate levels.
    partner_id: str | None = None
    advertiser_id: str | None = None
    # The media-cost share (0.12 = 12%) of PercentOfMediaCost and Hybrid rates, the CPM then being the cap.
    percent_of_media_cost: float | None = Field(default=None, ge=0, le=1)
    max_concurrency: int | None = Field(default=ADVISED_CONCURRENCY, ge=1)
    # How long a push waits for TTD to process its data-rate batches before leaving them `pending`.
    confirm_timeout_s: float = Field(default=30.0, ge=0)

    @field_validator("max_concurrency", mode="before")
    @classmethod
    def _advised_when_unset(cls, value: object) -> object:
        # A stored config carries `null` for "not chosen": TTD's advice then, not the global default.
        return ADVISED_CONCURRENCY if value is None else value

    @model_validator(mode="after")
    def _documented_rate_combinations(self) -> Self:
        if self.rate_level == "Partner" and not self.partner_id:
            raise ValueError("partner_id is required with rate_level Partner")
        if self.rate_level == "Advertiser" and not self.advertiser_id:
            raise ValueError("advertiser_id is required with rate_level Advertiser")
        if self.rate_level == "System" and self.rate_type != "Hybrid":
            raise ValueError("rate_level System takes rate_type Hybrid only")
        if self.rate_type != "CPM" and self.percent_of_media_cost is None:
            raise ValueError(f"percent_of_media_cost is required with rate_type {self.rate_type}")
        return self

    @property
    def parent(self) -> str:
        """The ParentElementId sent: TTD requires one."""
        return self.parent_element_id or ROOT_ELEMENT


_NOT_VISIBLE = "TTD answers 403 for an element that does not exist or is not visible to this login"


def is_duplicate_element(error: PlatformError) -> bool:
    """True for TTD's answer to creating a ProviderElementId that already exists."""
    return error.status_code == 400 and "already exists" in error.message.lower()


def per_item(error: PlatformError) -> PlatformError:
    """TTD's 403 as a permanent error of the item at hand, not of the credentials."""
    # TTD's 401 is the credentials; its 403 is this entity (missing, not visible): one item's failure.
    if error.status_code != 403:
        return error
    message = trim(f"{error.message} ({_NOT_VISIBLE})")
    return PlatformError(
        ErrorClass.PERMANENT, message, status_code=403, retry_after=error.retry_after, attempts=error.attempts
    )


def invalid_for_platform(field: str, rule: str) -> PlatformError:
    """A permanent per-item error naming the TTD field and the rule it breaks; no call is made."""
    return PlatformError(ErrorClass.PERMANENT, f"invalid for The Trade Desk: {field} {rule}", attempts=0)


def check_element(element_id: str, name: str, description: str) -> None:
    """Raise `invalid_for_platform` when a field breaks TTD's documented limits."""
    if not element_id or len(element_id) > PROVIDER_ELEMENT_ID_MAX:
        raise invalid_for_platform("ProviderElementId", f"must be 1-{PROVIDER_ELEMENT_ID_MAX} characters")
    if not name.strip() or len(name) > DISPLAY_NAME_MAX:
        raise invalid_for_platform(
            "DisplayName", f"must be 1-{DISPLAY_NAME_MAX} characters (has {len(name)})"
        )
    found = [repr(char) for char in FORBIDDEN_IN_DISPLAY_NAME if char in name]
    if found:
        raise invalid_for_platform("DisplayName", f"must not contain {', '.join(found)}")
    if len(description) > DESCRIPTION_MAX:
        raise invalid_for_platform(
            "Description", f"must be at most {DESCRIPTION_MAX} characters (has {len(description)})"
        )


def data_rate(config: TradeDeskConfig, element_id: str, cpm: float, currency: str) -> dict[str, Any]:
    """One rate of a /v3/datarate/batch body, with the level, type, brand and ids from config."""
    rate: dict[str, Any] = {
        "ProviderId": config.provider_id,
        "ProviderElementId": element_id,
        "BrandId": config.brand_id,
        "RateLevel": config.rate_level,
        "RateType": config.rate_type,
        # The CPM itself for CPM rates, the cap for Hybrid ones.
        "CPMRate": {"Amount": cpm, "CurrencyCode": currency},
    }
    if config.rate_type != "CPM":
        rate["PercentOfMediaCostRate"] = config.percent_of_media_cost
    if config.rate_level == "Partner":
        rate["PartnerId"] = config.partner_id
    if config.rate_level == "Advertiser":
        rate["AdvertiserId"] = config.advertiser_id
    return rate


_PROCESSING_FAILED = {"failed", "error", "rejected"}
_PROCESSING_DONE = {"processed", "complete", "completed", "succeeded", "success"}
_APPROVAL_REFUSED = {"rejected", "denied", "declined"}
_APPROVAL_GRANTED = {"approved", "notrequired", "autoapproved"}


def still_processing(body: Mapping[str, Any]) -> bool:
    """Whether TTD has not finished processing the batch (its approval aside)."""
    processing = str(body.get("ProcessingStatus") or "").lower()
    return processing not in _PROCESSING_DONE and processing not in _PROCESSING_FAILED


def batch_state(body: Mapping[str, Any]) -> BatchState:
    """Where a batch stands from TTD's ProcessingStatus and ApprovalStatus (their values are not public)."""
    processing = str(body.get("ProcessingStatus") or "").lower()
    approval = str(body.get("ApprovalStatus") or "").lower()
    if processing in _PROCESSING_FAILED or approval in _APPROVAL_REFUSED:
        return "failed"
    if processing in _PROCESSING_DONE and (not approval or approval in _APPROVAL_GRANTED):
        return "active"
    return "pending"
