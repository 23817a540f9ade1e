"""A scripted Trade Desk for the client's unit tests: elements, the paged query, data-rate batches."""

from __future__ import annotations

import json
from typing import Any

import httpx

from shared.connectors import ConnectorDeps, HttpSettings, PlatformClient, create_platform_client
from tests.unit.connectors.connector_fakes import FakeSleep, ScriptedPlatform

TOKEN = "ttd-token-abcdef123456"
CONFIG: dict[str, Any] = {
    "api_base_url": "http://127.0.0.1:8090/ttd",
    "provider_id": "acme",
    "brand_id": "acme-brand",
    "partner_id": "p-42",
    "default_cpm": 1.0,
    "currency": "USD",
}


class FakeTradeDesk:
    """Elements by ProviderElementId, TTD's duplicate rule and 403 for an unknown element, rate batches."""

    def __init__(self) -> None:
        self.elements: dict[str, dict[str, Any]] = {}
        self.rate_batches: list[list[dict[str, Any]]] = []
        self.server = ScriptedPlatform(self.handle)

    @property
    def rates(self) -> list[dict[str, Any]]:
        return [rate for batch in self.rate_batches for rate in batch]

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
                return httpx.Response(403, json={"Message": "Element does not exist or is not accessible."})
            self.elements[body["ProviderElementId"]] = body
            return httpx.Response(200, json=body)
        if route == ("POST", "/v3/thirdpartydata/query"):
            matching = [e for key, e in self.elements.items() if body.get("ProviderElementId") in (None, key)]
            start, size = body["PageStartIndex"], body["PageSize"]
            return httpx.Response(
                200, json={"Result": matching[start : start + size], "ResultCount": len(matching)}
            )
        if route == ("POST", "/v3/datarate/batch"):
            assert body["ProviderId"] == "acme"
            self.rate_batches.append(body["DataRates"])
            return httpx.Response(200, json={"BatchId": f"b{len(self.rate_batches)}"})
        return httpx.Response(404, json={"Message": "no route"})


def client_for(ttd: FakeTradeDesk, sleep: FakeSleep, token: str = TOKEN, **config: Any) -> PlatformClient:
    return create_platform_client(
        "tradedesk",
        "bearer",
        {"api_key": token},
        {**CONFIG, **config},
        settings=HttpSettings(),
        deps=ConnectorDeps(transport=ttd.server.transport, sleep=sleep),
    )
