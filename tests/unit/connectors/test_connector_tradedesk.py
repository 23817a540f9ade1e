"""The Trade Desk client: TTD-Auth, our ProviderElementId, duplicate-create recovery, CPM, paged lookup."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from shared.connectors import (
    ConnectorDeps,
    CreateSegmentParams,
    ErrorClass,
    HttpSettings,
    PlatformClient,
    PlatformError,
    PlatformSegment,
    UpdateSegmentParams,
    create_platform_client,
)
from tests.unit.connectors.connector_fakes import FakeSleep, ScriptedPlatform

TOKEN = "ttd-token-abcdef123456"
CONFIG = {
    "api_base_url": "http://127.0.0.1:8090/ttd",
    "provider_id": "acme",
    "parent_element_id": "root",
    "default_cpm": 1.0,
    "currency": "USD",
}
PARAMS = CreateSegmentParams(
    name="Auto", description="Car buyers", cpm=2.0, currency="EUR", external_key="c1-t42"
)


class FakeTradeDesk:
    """Elements by ProviderElementId, the duplicate rule, the paged query and data-rate batches."""

    def __init__(self) -> None:
        self.elements: dict[str, dict[str, Any]] = {}
        self.rates: list[dict[str, Any]] = []
        self.server = ScriptedPlatform(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("TTD-Auth") != TOKEN:
            return httpx.Response(401, json={"Message": "Invalid or expired token"})
        body = json.loads(request.content) if request.content else {}
        route = (request.method, request.url.path.removeprefix("/ttd"))
        if route == ("POST", "/v3/thirdpartydata"):
            if body["ProviderElementId"] in self.elements:
                return httpx.Response(
                    400, json={"Message": "ProviderElementId already exists", "ErrorDetails": []}
                )
            self.elements[body["ProviderElementId"]] = body
            return httpx.Response(200, json=body)
        if route == ("PUT", "/v3/thirdpartydata"):
            if body["ProviderElementId"] not in self.elements:
                return httpx.Response(404, json={"Message": "Element not found"})
            self.elements[body["ProviderElementId"]] = body
            return httpx.Response(200, json=body)
        if route == ("POST", "/v3/thirdpartydata/query"):
            matching = [e for key, e in self.elements.items() if body.get("ProviderElementId") in (None, key)]
            start, size = body["PageStartIndex"], body["PageSize"]
            return httpx.Response(
                200, json={"Result": matching[start : start + size], "ResultCount": len(matching)}
            )
        if route == ("POST", "/v3/datarate/batch"):
            self.rates.extend(body["DataRates"])
            return httpx.Response(200, json={"BatchId": "b1", "Status": "Pending"})
        return httpx.Response(404, json={"Message": "no route"})


def client_for(ttd: FakeTradeDesk, sleep: FakeSleep, token: str = TOKEN) -> PlatformClient:
    return create_platform_client(
        "tradedesk",
        "bearer",
        {"api_key": token},
        CONFIG,
        settings=HttpSettings(),
        deps=ConnectorDeps(transport=ttd.server.transport, sleep=sleep),
    )


async def test_create_makes_a_buyable_element_keyed_by_our_id_and_prices_it(fake_sleep: FakeSleep) -> None:
    ttd = FakeTradeDesk()
    assert await client_for(ttd, fake_sleep).create_segment(PARAMS) == "c1-t42"
    assert ttd.elements["c1-t42"] == {
        "ProviderId": "acme",
        "ProviderElementId": "c1-t42",
        "ParentElementId": "root",
        "DisplayName": "Auto",
        "Buyable": True,
        "Description": "Car buyers",
    }
    assert ttd.rates == [
        {
            "ProviderId": "acme",
            "ProviderElementId": "c1-t42",
            "RateLevel": "Partner",
            "RateType": "CPM",
            "CPMRate": {"Amount": 2.0, "CurrencyCode": "EUR"},
        }
    ]


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
            return httpx.Response(200, json={"BatchId": "b", "Status": "Failed", "Errors": ["bad currency"]})
        return ttd.handle(request)

    ttd.server = ScriptedPlatform(handler)
    with pytest.raises(PlatformError) as caught:
        await client_for(ttd, fake_sleep).create_segment(PARAMS)
    assert caught.value.error_class is ErrorClass.PERMANENT
    assert "bad currency" in caught.value.message
