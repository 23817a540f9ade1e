"""The Trade Desk's request bodies, with TTD's own PascalCase field names."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.mock_platforms.wire_types import CurrencyCode as Currency
from services.mock_platforms.wire_types import ExternalId, Price, SegmentName


class ThirdPartyData(BaseModel):
    """A third-party data element; `ProviderElementId` is the caller's own id."""

    model_config = ConfigDict(extra="ignore")

    ProviderId: str = Field(min_length=1)
    ProviderElementId: ExternalId
    ParentElementId: str | None = None
    DisplayName: SegmentName
    Buyable: bool = True
    Description: str = ""


class CpmRate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    Amount: Price
    CurrencyCode: Currency


class DataRate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    ProviderId: str = Field(min_length=1)
    ProviderElementId: ExternalId
    RateLevel: Literal["Partner"]
    PartnerId: str | None = None
    RateType: Literal["CPM"]
    CPMRate: CpmRate


class DataRateBatchRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    DataRates: list[DataRate] = Field(min_length=1, max_length=10_000)


class ThirdPartyDataQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    ProviderId: str = Field(min_length=1)
    ProviderElementId: str | None = None
    PageStartIndex: int = Field(default=0, ge=0)
    PageSize: int = Field(default=100, ge=1, le=1000)
