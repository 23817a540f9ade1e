"""The Trade Desk fake: elements keyed by ProviderElementId under ROOT, paged query, data-rate batches."""

from __future__ import annotations

import httpx
import pytest

from tests.unit.mock_platforms.mock_platforms_fakes import FakeClock

AUTH = {"TTD-Auth": "ttd-token"}


def element(element_id: str, name: str = "Auto Intenders", **extra: object) -> dict[str, object]:
    return {
        "ProviderId": "activator",
        "ProviderElementId": element_id,
        "ParentElementId": "ROOT",
        "DisplayName": name,
        "Buyable": True,
        "Description": "In market for a car",
        **extra,
    }


def rate(element_id: str, amount: float = 1.25) -> dict[str, object]:
    return {
        "ProviderId": "activator",
        "ProviderElementId": element_id,
        "BrandId": "activator-brand",
        "RateLevel": "Partner",
        "PartnerId": "p1",
        "RateType": "CPM",
        "CPMRate": {"Amount": amount, "CurrencyCode": "USD"},
    }


@pytest.fixture
async def ttd(client: httpx.AsyncClient) -> httpx.AsyncClient:
    await client.post(
        "/admin/tenants", json={"platform": "tradedesk", "credentials": {"api_key": "ttd-token"}}
    )
    return client


@pytest.mark.parametrize("headers", [{}, {"TTD-Auth": "other"}, {"Authorization": "Bearer ttd-token"}])
async def test_bad_token_is_401_with_ttd_message(ttd: httpx.AsyncClient, headers: dict[str, str]) -> None:
    response = await ttd.post("/ttd/v3/thirdpartydata", json=element("e1"), headers=headers)
    assert response.status_code == 401
    assert response.json() == {"Message": "Invalid or expired token"}


async def test_without_tenants_any_token_but_none_passes(client: httpx.AsyncClient) -> None:
    assert (await client.post("/ttd/v3/thirdpartydata", json=element("e1"))).status_code == 401
    ok = await client.post("/ttd/v3/thirdpartydata", json=element("e1"), headers={"TTD-Auth": "anything"})
    assert ok.status_code == 200


async def test_create_returns_the_element_and_a_repeat_is_refused(ttd: httpx.AsyncClient) -> None:
    created = await ttd.post("/ttd/v3/thirdpartydata", json=element("e1"), headers=AUTH)
    repeated = await ttd.post("/ttd/v3/thirdpartydata", json=element("e1"), headers=AUTH)

    assert created.status_code == 200
    assert created.json() == element("e1")
    assert repeated.status_code == 400
    assert repeated.json()["Message"] == "ProviderElementId already exists"
    assert repeated.json()["ErrorDetails"][0]["Property"] == "ProviderElementId"
    stats = (await ttd.get("/admin/stats/ttd")).json()
    assert (stats["segments"], stats["creates_by_key"], stats["duplicates"]) == (1, {"e1": 2}, 1)


async def test_update_and_deactivate_with_buyable_false(ttd: httpx.AsyncClient) -> None:
    await ttd.post("/ttd/v3/thirdpartydata", json=element("e1"), headers=AUTH)
    changed = element("e1", "Car Buyers", Buyable=False)
    response = await ttd.put("/ttd/v3/thirdpartydata", json=changed, headers=AUTH)
    assert response.status_code == 200
    assert response.json() == changed


async def test_update_of_unknown_element_is_403_as_ttd_answers_an_invisible_entity(
    ttd: httpx.AsyncClient,
) -> None:
    response = await ttd.put("/ttd/v3/thirdpartydata", json=element("missing"), headers=AUTH)
    assert response.status_code == 403
    assert "does not exist" in response.json()["Message"]


async def test_validation_error_names_the_property(ttd: httpx.AsyncClient) -> None:
    response = await ttd.post("/ttd/v3/thirdpartydata", json=element("e1", "x" * 257), headers=AUTH)
    assert response.status_code == 400
    assert response.json()["ErrorDetails"][0]["Property"] == "DisplayName"


async def test_query_pages_in_creation_order(ttd: httpx.AsyncClient) -> None:
    for n in range(5):
        await ttd.post("/ttd/v3/thirdpartydata", json=element(f"e{n}"), headers=AUTH)
    query = {"ProviderId": "activator", "PageStartIndex": 2, "PageSize": 2}
    page = (await ttd.post("/ttd/v3/thirdpartydata/query", json=query, headers=AUTH)).json()
    one = {"ProviderId": "activator", "ProviderElementId": "e4", "PageStartIndex": 0, "PageSize": 10}
    single = (await ttd.post("/ttd/v3/thirdpartydata/query", json=one, headers=AUTH)).json()

    assert [e["ProviderElementId"] for e in page["Result"]] == ["e2", "e3"]
    assert page["ResultCount"] == 5
    assert single == {"Result": [element("e4")], "ResultCount": 1}


async def test_tenant_with_a_provider_id_cannot_write_another_provider(client: httpx.AsyncClient) -> None:
    credentials = {"api_key": "t", "provider_id": "someone-else"}
    await client.post("/admin/tenants", json={"platform": "tradedesk", "credentials": credentials})
    response = await client.post("/ttd/v3/thirdpartydata", json=element("e1"), headers={"TTD-Auth": "t"})
    assert response.status_code == 403


async def test_rate_batch_is_pending_then_processed(ttd: httpx.AsyncClient, clock: FakeClock) -> None:
    await ttd.post("/ttd/v3/thirdpartydata", json=element("e1"), headers=AUTH)
    submitted = await ttd.post("/ttd/v3/datarate/batch", json={"DataRates": [rate("e1")]}, headers=AUTH)
    batch_id = submitted.json()["BatchId"]
    pending = (await ttd.get(f"/ttd/v3/datarate/batch/{batch_id}", headers=AUTH)).json()
    clock.advance(1.0)
    processed = (await ttd.get(f"/ttd/v3/datarate/batch/{batch_id}", headers=AUTH)).json()

    assert submitted.json() == {"BatchId": batch_id}
    assert (pending["ProcessingStatus"], pending["ApprovalStatus"]) == ("Pending", "Pending")
    assert processed == {
        "BatchId": batch_id,
        "ProcessingStatus": "Processed",
        "ApprovalStatus": "Approved",
        "DataRates": [rate("e1")],
        "Errors": [],
    }
    held = (await ttd.get("/admin/segments/tradedesk")).json()["segments"]
    assert held[0]["DataRate"]["CPMRate"] == {"Amount": 1.25, "CurrencyCode": "USD"}


async def test_rate_for_unknown_element_fails_the_batch(ttd: httpx.AsyncClient, clock: FakeClock) -> None:
    await ttd.put("/admin/settings/tradedesk", json={"processing_delay_s": 0})
    submitted = await ttd.post("/ttd/v3/datarate/batch", json={"DataRates": [rate("ghost")]}, headers=AUTH)
    status = (await ttd.get(f"/ttd/v3/datarate/batch/{submitted.json()['BatchId']}", headers=AUTH)).json()
    assert status["ProcessingStatus"] == "Failed"
    assert status["Errors"][0]["ProviderElementId"] == "ghost"


async def test_malformed_rate_batch_is_a_400_and_unknown_batch_a_404(ttd: httpx.AsyncClient) -> None:
    bad = await ttd.post("/ttd/v3/datarate/batch", json={"DataRates": [{"RateType": "CPM"}]}, headers=AUTH)
    missing = await ttd.get("/ttd/v3/datarate/batch/nope", headers=AUTH)
    assert bad.status_code == 400
    assert missing.status_code == 404
