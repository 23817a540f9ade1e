"""The Trade Desk client: TTD-Auth, our ProviderElementId, duplicate-create recovery, CPM, paged lookup."""

from __future__ import annotations

import json

import httpx
import pytest

from shared.connectors import (
    CreateSegmentParams,
    ErrorClass,
    PlatformError,
    PlatformSegment,
    UpdateSegmentParams,
)
from tests.unit.connectors.connector_fakes import FakeSleep, ScriptedPlatform
from tests.unit.connectors.tradedesk_fakes import FakeTradeDesk, client_for

PARAMS = CreateSegmentParams(
    name="Auto", description="Car buyers", cpm=2.0, currency="EUR", external_key="c1-t42"
)


async def test_create_makes_a_buyable_element_keyed_by_our_id_and_prices_it(fake_sleep: FakeSleep) -> None:
    ttd = FakeTradeDesk()
    assert await client_for(ttd, fake_sleep, parent_element_id="autos").create_segment(PARAMS) == "c1-t42"
    assert ttd.elements["c1-t42"] == {
        "ProviderId": "acme",
        "ProviderElementId": "c1-t42",
        "ParentElementId": "autos",
        "DisplayName": "Auto",
        "Buyable": True,
        "Description": "Car buyers",
    }
    assert ttd.rates == [
        {
            "ProviderId": "acme",
            "ProviderElementId": "c1-t42",
            "BrandId": "acme-brand",
            "RateLevel": "Partner",
            "PartnerId": "p-42",
            "RateType": "CPM",
            "CPMRate": {"Amount": 2.0, "CurrencyCode": "EUR"},
        }
    ]


async def test_without_a_parent_the_element_hangs_under_root(fake_sleep: FakeSleep) -> None:
    ttd = FakeTradeDesk()
    await client_for(ttd, fake_sleep).create_segment(PARAMS)
    assert ttd.elements["c1-t42"]["ParentElementId"] == "ROOT"


async def test_duplicate_create_is_recognised_and_becomes_an_update(fake_sleep: FakeSleep) -> None:
    ttd = FakeTradeDesk()
    client = client_for(ttd, fake_sleep)
    await client.create_segment(PARAMS)
    renamed = PARAMS.model_copy(update={"name": "Auto (renamed)"})
    assert await client.create_segment(renamed) == "c1-t42"
    assert ttd.elements["c1-t42"]["DisplayName"] == "Auto (renamed)"
    assert ttd.server.paths()[-3:] == [
        "POST /ttd/v3/thirdpartydata",
        "PUT /ttd/v3/thirdpartydata",
        "POST /ttd/v3/datarate/batch",
    ]
    assert fake_sleep.calls == []


async def test_other_bad_requests_are_not_mistaken_for_duplicates(fake_sleep: FakeSleep) -> None:
    def handler(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"Message": "DisplayName is required"})

    server = ScriptedPlatform(handler)
    ttd = FakeTradeDesk()
    ttd.server = server
    with pytest.raises(PlatformError) as caught:
        await client_for(ttd, fake_sleep).create_segment(PARAMS)
    assert caught.value.message == "HTTP 400: DisplayName is required"
    assert server.paths() == ["POST /ttd/v3/thirdpartydata"]


async def test_update_replaces_the_element_and_reprices_only_when_asked(fake_sleep: FakeSleep) -> None:
    ttd = FakeTradeDesk()
    client = client_for(ttd, fake_sleep)
    await client.create_segment(PARAMS)
    await client.update_segment("c1-t42", UpdateSegmentParams(name="New", description="D"))
    assert len(ttd.rates) == 1
    await client.update_segment("c1-t42", UpdateSegmentParams(name="New", description="D", cpm=4.0))
    assert ttd.rates[-1]["CPMRate"] == {"Amount": 4.0, "CurrencyCode": "USD"}
    assert ttd.elements["c1-t42"]["DisplayName"] == "New"


async def test_deactivate_makes_the_element_unbuyable_and_keeps_its_name(fake_sleep: FakeSleep) -> None:
    ttd = FakeTradeDesk()
    client = client_for(ttd, fake_sleep)
    await client.create_segment(PARAMS)
    await client.deactivate_segment("c1-t42")
    assert ttd.elements["c1-t42"]["Buyable"] is False
    assert ttd.elements["c1-t42"]["DisplayName"] == "Auto"
    assert await client.get_segment("c1-t42") == PlatformSegment(id="c1-t42", name="Auto", status="inactive")


async def test_deactivating_an_unknown_element_is_permanent(fake_sleep: FakeSleep) -> None:
    with pytest.raises(PlatformError) as caught:
        await client_for(FakeTradeDesk(), fake_sleep).deactivate_segment("ghost")
    assert caught.value.code == "permanent:404"


async def test_get_pages_through_the_query(fake_sleep: FakeSleep) -> None:
    pages: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        # A platform that ignores the id filter: the client has to page until it finds the element.
        start = json.loads(request.content)["PageStartIndex"]
        pages.append(start)
        everything = [
            {"ProviderElementId": f"e{n}", "DisplayName": f"E{n}", "Buyable": True} for n in range(250)
        ]
        return httpx.Response(200, json={"Result": everything[start : start + 100], "ResultCount": 250})

    ttd = FakeTradeDesk()
    ttd.server = ScriptedPlatform(handler)
    client = client_for(ttd, fake_sleep)
    assert await client.get_segment("e230") == PlatformSegment(id="e230", name="E230", status="active")
    assert pages == [0, 100, 200]
    assert await client.get_segment("missing") is None


async def test_bad_token_fails_the_connection_test_with_ttd_message(fake_sleep: FakeSleep) -> None:
    ttd = FakeTradeDesk()
    result = await client_for(ttd, fake_sleep, token="wrong-token").test_connection()
    assert result.success is False
    assert result.error == "HTTP 401: Invalid or expired token"
    good = await client_for(ttd, fake_sleep).test_connection()
    assert good.success is True


async def test_rate_limit_on_create_is_retried(fake_sleep: FakeSleep) -> None:
    ttd = FakeTradeDesk()
    limited = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal limited
        if limited < 2:
            limited += 1
            return httpx.Response(429, json={"Message": "Too many requests"})
        return ttd.handle(request)

    ttd.server = ScriptedPlatform(handler)
    assert await client_for(ttd, fake_sleep).create_segment(PARAMS) == "c1-t42"
    assert fake_sleep.calls == [1.0, 2.0]
    assert "c1-t42" in ttd.elements


async def test_failed_rate_batch_is_a_permanent_error(fake_sleep: FakeSleep) -> None:
    ttd = FakeTradeDesk()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/datarate/batch"):
            failed = {"BatchId": "b", "ProcessingStatus": "Failed", "Errors": ["bad currency"]}
            return httpx.Response(200, json=failed)
        return ttd.handle(request)

    ttd.server = ScriptedPlatform(handler)
    with pytest.raises(PlatformError) as caught:
        await client_for(ttd, fake_sleep).create_segment(PARAMS)
    assert caught.value.error_class is ErrorClass.PERMANENT
    assert "bad currency" in caught.value.message
