"""The Trade Desk's request bodies, with TTD's own PascalCase field names and documented limits."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from services.mock_platforms.wire_types import CurrencyCode as Currency
from services.mock_platforms.wire_types import Price

_FORBIDDEN_IN_NAME = ("\t", "'", '"', "^")


def _displayable(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    found = [repr(char) for char in _FORBIDDEN_IN_NAME if char in value]
    if found:
        raise ValueError(f"must not contain {', '.join(found)}")
    return value


# Limits as TTD documents them (docs/platform-wire.md): 256, 4,000 and 512 characters.
NameText = Annotated[str, StringConstraints(min_length=1, max_length=256), AfterValidator(_displayable)]
DescriptionText = Annotated[str, StringConstraints(max_length=4_000)]
ElementId = Annotated[str, StringConstraints(min_length=1, max_length=512)]


class ThirdPartyData(BaseModel):
    """A third-party data element; `ProviderElementId` is the caller's own id, `ParentElementId` is required."""

    model_config = ConfigDict(extra="ignore")

    ProviderId: str = Field(min_length=1)
    ProviderElementId: ElementId
    ParentElementId: ElementId
    DisplayName: NameText
    Buyable: bool = True
    Description: DescriptionText = ""


class CpmRate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    Amount: Price
    CurrencyCode: Currency


class DataRate(BaseModel):
    """One rate: the level needs its partner or advertiser, the type its amounts, System rates are Hybrid."""

    model_config = ConfigDict(extra="ignore")

    ProviderId: str | None = Field(default=None, min_length=1)
    ProviderElementId: ElementId
    BrandId: str = Field(min_length=1)
    RateLevel: Literal["System", "Partner", "Advertiser"]
    PartnerId: str | None = None
    AdvertiserId: str | None = None
    RateType: Literal["CPM", "PercentOfMediaCost", "Hybrid"]
    CPMRate: CpmRate | None = None
    PercentOfMediaCostRate: float | None = Field(default=None, ge=0, le=1)

    @model_validator(mode="after")
    def _documented_combinations(self) -> Self:
        if self.RateLevel == "Partner" and not self.PartnerId:
            raise ValueError("PartnerId is required for RateLevel Partner")
        if self.RateLevel == "Advertiser" and not self.AdvertiserId:
            raise ValueError("AdvertiserId is required for RateLevel Advertiser")
        if self.RateLevel == "System" and self.RateType != "Hybrid":
            raise ValueError("System rates must be Hybrid")
        if self.RateType in ("CPM", "Hybrid") and self.CPMRate is None:
            raise ValueError(f"CPMRate is required for RateType {self.RateType}")
        if self.RateType in ("PercentOfMediaCost", "Hybrid") and self.PercentOfMediaCostRate is None:
            raise ValueError(f"PercentOfMediaCostRate is required for RateType {self.RateType}")
        return self


class DataRateBatchRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    ProviderId: str | None = Field(default=None, min_length=1)
    DataRates: list[DataRate] = Field(min_length=1, max_length=5_000)


class ThirdPartyDataQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    ProviderId: str = Field(min_length=1)
    ProviderElementId: str | None = None
    PageStartIndex: int = Field(default=0, ge=0)
    PageSize: int = Field(default=100, ge=1, le=1000)
