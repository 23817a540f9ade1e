"""The Trade Desk fake holds callers to TTD's documented rules: field limits, a required and fixed
ParentElementId, the data rate's required combinations, 5,000 rates per batch, approval below the thresholds."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.unit.mock_platforms.mock_platforms_fakes import FakeClock
from tests.unit.mock_platforms.test_mock_tradedesk import AUTH, element, rate

ELEMENTS = "/ttd/v3/thirdpartydata"
RATES = "/ttd/v3/datarate/batch"


@pytest.fixture
async def ttd(client: httpx.AsyncClient) -> httpx.AsyncClient:
    await client.post(
        "/admin/tenants", json={"platform": "tradedesk", "credentials": {"api_key": "ttd-token"}}
    )
    return client


def refusal(response: httpx.Response) -> tuple[int, str]:
    body = response.json()
    return response.status_code, body["ErrorDetails"][0]["Property"]


@pytest.mark.parametrize(
    ("fields", "property_at_fault"),
    [
        ({"DisplayName": "n" * 257}, "DisplayName"),
        ({"DisplayName": "Bob's"}, "DisplayName"),
        ({"DisplayName": "tab\there"}, "DisplayName"),
        ({"DisplayName": "a^b"}, "DisplayName"),
        ({"Description": "d" * 4_001}, "Description"),
        ({"ProviderElementId": "k" * 513}, "ProviderElementId"),
        ({"ParentElementId": None}, "ParentElementId"),
    ],
)
async def test_fields_beyond_ttd_limits_are_refused(
    ttd: httpx.AsyncClient, fields: dict[str, Any], property_at_fault: str
) -> None:
    response = await ttd.post(ELEMENTS, json=element("e1") | fields, headers=AUTH)
    assert refusal(response) == (400, property_at_fault)


async def test_the_limits_themselves_are_accepted(ttd: httpx.AsyncClient) -> None:
    longest = element("k" * 512, "n" * 256, Description="d" * 4_000)
    assert (await ttd.post(ELEMENTS, json=longest, headers=AUTH)).status_code == 200


async def test_a_missing_parent_is_refused(ttd: httpx.AsyncClient) -> None:
    body = element("e1")
    del body["ParentElementId"]
    assert refusal(await ttd.post(ELEMENTS, json=body, headers=AUTH)) == (400, "ParentElementId")
    orphan = element("e2", ParentElementId="no-such-element")
    assert refusal(await ttd.post(ELEMENTS, json=orphan, headers=AUTH)) == (400, "ParentElementId")


async def test_a_child_hangs_under_its_container_and_cannot_be_moved(ttd: httpx.AsyncClient) -> None:
    await ttd.post(ELEMENTS, json=element("autos", "Autos", Buyable=False), headers=AUTH)
    await ttd.post(ELEMENTS, json=element("suv", "SUV", ParentElementId="autos"), headers=AUTH)
    moved = await ttd.put(ELEMENTS, json=element("suv", "SUV", ParentElementId="ROOT"), headers=AUTH)
    renamed = await ttd.put(ELEMENTS, json=element("suv", "SUVs", ParentElementId="autos"), headers=AUTH)
    assert refusal(moved) == (400, "ParentElementId")
    assert renamed.status_code == 200


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"BrandId": None}, "BrandId"),
        ({"PartnerId": None}, "PartnerId is required for RateLevel Partner"),
        ({"RateLevel": "Advertiser"}, "AdvertiserId is required for RateLevel Advertiser"),
        ({"RateLevel": "System"}, "System rates must be Hybrid"),
        ({"RateType": "Hybrid"}, "PercentOfMediaCostRate is required for RateType Hybrid"),
    ],
)
async def test_rates_outside_the_documented_combinations_are_refused(
    ttd: httpx.AsyncClient, fields: dict[str, Any], reason: str
) -> None:
    await ttd.post(ELEMENTS, json=element("e1"), headers=AUTH)
    response = await ttd.post(RATES, json={"DataRates": [rate("e1") | fields]}, headers=AUTH)
    assert response.status_code == 400
    assert reason in str(response.json())


async def test_a_hybrid_system_rate_is_accepted(ttd: httpx.AsyncClient) -> None:
    await ttd.post(ELEMENTS, json=element("e1"), headers=AUTH)
    hybrid = rate("e1") | {"RateLevel": "System", "RateType": "Hybrid", "PercentOfMediaCostRate": 0.15}
    response = await ttd.post(RATES, json={"ProviderId": "activator", "DataRates": [hybrid]}, headers=AUTH)
    assert response.status_code == 200


async def test_a_batch_takes_at_most_5000_rates(ttd: httpx.AsyncClient) -> None:
    response = await ttd.post(RATES, json={"DataRates": [rate(f"e{n}") for n in range(5_001)]}, headers=AUTH)
    assert refusal(response) == (400, "DataRates")


async def test_a_cpm_under_5_waits_for_approval_once_processed(
    ttd: httpx.AsyncClient, clock: FakeClock
) -> None:
    await ttd.put("/admin/settings/tradedesk", json={"processing_delay_s": 1, "approval_delay_s": 60})
    await ttd.post(ELEMENTS, json=element("cheap"), headers=AUTH)
    await ttd.post(ELEMENTS, json=element("dear"), headers=AUTH)
    cheap = (await ttd.post(RATES, json={"DataRates": [rate("cheap", 1.25)]}, headers=AUTH)).json()["BatchId"]
    dear = (await ttd.post(RATES, json={"DataRates": [rate("dear", 7.5)]}, headers=AUTH)).json()["BatchId"]
    clock.advance(2)

    async def statuses(batch: str) -> tuple[str, str]:
        body = (await ttd.get(f"{RATES}/{batch}", headers=AUTH)).json()
        return body["ProcessingStatus"], body["ApprovalStatus"]

    assert await statuses(cheap) == ("Processed", "Pending")
    assert await statuses(dear) == ("Processed", "Approved")
    clock.advance(60)
    assert await statuses(cheap) == ("Processed", "Approved")
