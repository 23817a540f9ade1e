"""The Trade Desk's documented rules, applied by the client: field limits before any call, 403 as one
item's failure, the data rate's required combinations from config, four calls in flight by default."""

from __future__ import annotations

from typing import Any

import pytest

from shared.connectors import (
    ConnectorConfigError,
    CreateSegmentParams,
    ErrorClass,
    PlatformError,
    UpdateSegmentParams,
    validate_outbound_config,
)
from shared.connectors.factory import outbound_config
from tests.unit.connectors.connector_fakes import FakeSleep
from tests.unit.connectors.tradedesk_fakes import CONFIG, TOKEN, FakeTradeDesk, client_for


def params(name: str = "Auto", description: str = "", key: str = "c1-t1") -> CreateSegmentParams:
    return CreateSegmentParams(name=name, description=description, cpm=1.0, currency="USD", external_key=key)


@pytest.mark.parametrize(
    ("segment", "field", "rule"),
    [
        (params(name="x" * 257), "DisplayName", "must be 1-256 characters (has 257)"),
        (params(name="Bob's autos"), "DisplayName", 'must not contain "\'"'),
        (params(name="Autos\tnew"), "DisplayName", "must not contain '\\t'"),
        (params(name='a^b "c"'), "DisplayName", "must not contain '\"', '^'"),
        (params(description="d" * 4_001), "Description", "must be at most 4000 characters (has 4001)"),
        (params(key="k" * 513), "ProviderElementId", "must be 1-512 characters"),
    ],
)
async def test_a_field_over_ttd_limits_fails_the_item_before_any_call(
    fake_sleep: FakeSleep, segment: CreateSegmentParams, field: str, rule: str
) -> None:
    ttd = FakeTradeDesk()
    with pytest.raises(PlatformError) as caught:
        await client_for(ttd, fake_sleep).create_segment(segment)
    assert caught.value.error_class is ErrorClass.PERMANENT
    assert caught.value.message == f"invalid for The Trade Desk: {field} {rule}"
    assert caught.value.attempts == 0
    assert ttd.server.paths() == []


async def test_the_limits_themselves_are_accepted(fake_sleep: FakeSleep) -> None:
    ttd = FakeTradeDesk()
    longest = params(name="n" * 256, description="d" * 4_000, key="k" * 512)
    assert await client_for(ttd, fake_sleep).create_segment(longest) == "k" * 512


async def test_a_rename_breaking_the_limits_is_refused_too(fake_sleep: FakeSleep) -> None:
    ttd = FakeTradeDesk()
    with pytest.raises(PlatformError, match="DisplayName must not contain"):
        await client_for(ttd, fake_sleep).update_segment(
            "c1", UpdateSegmentParams(name='"x"', description="")
        )
    assert ttd.server.paths() == []


async def test_403_is_the_element_not_the_credentials(fake_sleep: FakeSleep) -> None:
    # TTD answers 403 for an entity that does not exist or is not visible to this login.
    with pytest.raises(PlatformError) as caught:
        await client_for(FakeTradeDesk(), fake_sleep).update_segment(
            "gone", UpdateSegmentParams(name="Gone", description="")
        )
    assert (caught.value.error_class, caught.value.status_code) == (ErrorClass.PERMANENT, 403)
    assert "does not exist or is not visible" in caught.value.message


async def test_401_still_means_the_token(fake_sleep: FakeSleep) -> None:
    with pytest.raises(PlatformError) as caught:
        await client_for(FakeTradeDesk(), fake_sleep, token="expired").create_segment(params())
    assert caught.value.code == "auth:401"


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (
            {"rate_level": "Advertiser", "advertiser_id": "adv-7", "partner_id": None},
            {"RateLevel": "Advertiser", "AdvertiserId": "adv-7", "RateType": "CPM"},
        ),
        (
            {"rate_level": "System", "rate_type": "Hybrid", "percent_of_media_cost": 0.12},
            {"RateLevel": "System", "RateType": "Hybrid", "PercentOfMediaCostRate": 0.12},
        ),
    ],
)
async def test_rate_level_type_and_ids_come_from_config(
    fake_sleep: FakeSleep, config: dict[str, Any], expected: dict[str, Any]
) -> None:
    ttd = FakeTradeDesk()
    await client_for(ttd, fake_sleep, **config).create_segment(params())
    [rate] = ttd.rates
    assert rate | expected == rate
    assert rate["BrandId"] == "acme-brand"
    assert ("PartnerId" in rate) is (expected["RateLevel"] == "Partner")


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"brand_id": None}, "config.brand_id"),
        ({"partner_id": None}, "partner_id is required with rate_level Partner"),
        ({"rate_level": "Advertiser"}, "advertiser_id is required with rate_level Advertiser"),
        ({"rate_level": "System", "rate_type": "CPM"}, "rate_level System takes rate_type Hybrid only"),
        ({"rate_type": "Hybrid"}, "percent_of_media_cost is required with rate_type Hybrid"),
    ],
)
def test_undocumented_rate_combinations_are_refused_on_save(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ConnectorConfigError, match=message):
        validate_outbound_config("tradedesk", "bearer", {"api_key": TOKEN}, {**CONFIG, **config})


def test_four_calls_in_flight_unless_the_connection_says_otherwise() -> None:
    assert outbound_config("tradedesk", CONFIG).max_concurrency == 4
    # A config saved before this default stores null for "not chosen".
    assert outbound_config("tradedesk", {**CONFIG, "max_concurrency": None}).max_concurrency == 4
    assert outbound_config("tradedesk", {**CONFIG, "max_concurrency": 2}).max_concurrency == 2
