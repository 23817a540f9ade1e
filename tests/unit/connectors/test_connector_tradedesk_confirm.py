"""The Trade Desk processes data rates later: confirm() polls the batches until processed, failed or out of time."""

from __future__ import annotations

import json

import httpx

from shared.connectors import ConnectorDeps, CreateSegmentParams, HttpSettings, create_platform_client
from shared.connectors.protocol import ConfirmingPlatformClient
from tests.unit.connectors.connector_fakes import ScriptedPlatform

CONFIG = {
    "api_base_url": "http://127.0.0.1:8090/ttd",
    "provider_id": "acme",
    "default_cpm": 1.0,
    "currency": "USD",
    "confirm_timeout_s": 10,
}


class ClockAndSleep:
    """Fake time: sleeping advances the clock."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class BatchTradeDesk:
    """Each data-rate batch answers Pending for `polls_until_done` status reads, then its final status."""

    def __init__(self, final: dict[str, str], polls_until_done: int) -> None:
        self.final = final  # element id -> Processed | Failed
        self.polls_until_done = polls_until_done
        self.polls: dict[str, int] = {}
        self.server = ScriptedPlatform(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/ttd")
        if path == "/v3/thirdpartydata":
            return httpx.Response(200, json=json.loads(request.content))
        if path == "/v3/datarate/batch":
            element = json.loads(request.content)["DataRates"][0]["ProviderElementId"]
            return httpx.Response(200, json={"BatchId": f"batch-{element}", "Status": "Pending"})
        if path.startswith("/v3/datarate/batch/"):
            element = path.rsplit("batch-", 1)[1]
            self.polls[element] = self.polls.get(element, 0) + 1
            if self.polls[element] <= self.polls_until_done:
                return httpx.Response(200, json={"BatchId": f"batch-{element}", "Status": "Pending"})
            status = self.final[element]
            errors = ["CPM below the floor"] if status == "Failed" else []
            return httpx.Response(
                200, json={"BatchId": f"batch-{element}", "Status": status, "Errors": errors}
            )
        return httpx.Response(404, json={"Message": "no route"})


async def _created(ttd: BatchTradeDesk, time: ClockAndSleep, elements: list[str]) -> ConfirmingPlatformClient:
    client = create_platform_client(
        "tradedesk",
        "bearer",
        {"api_key": "ttd-token-abcdef"},
        CONFIG,
        settings=HttpSettings(),
        deps=ConnectorDeps(transport=ttd.server.transport, sleep=time.sleep, clock=time.clock),
    )
    assert isinstance(client, ConfirmingPlatformClient)
    for element in elements:
        params = CreateSegmentParams(
            name=element, description="", cpm=1.0, currency="USD", external_key=element
        )
        await client.create_segment(params)
    return client


async def test_processed_and_failed_batches_are_reported_per_element() -> None:
    ttd, time = BatchTradeDesk({"a": "Processed", "b": "Failed"}, polls_until_done=2), ClockAndSleep()
    client = await _created(ttd, time, ["a", "b"])
    confirmed = await client.confirm(["a", "b"])
    assert confirmed["a"].state == "active"
    assert confirmed["b"].state == "failed"
    assert "CPM below the floor" in (confirmed["b"].message or "")
    assert time.sleeps == [0.25, 0.5]  # backoff between polls, no real waiting


async def test_batches_still_processing_at_the_deadline_stay_pending() -> None:
    ttd, time = BatchTradeDesk({"a": "Processed"}, polls_until_done=1000), ClockAndSleep()
    client = await _created(ttd, time, ["a"])
    confirmed = await client.confirm(["a"])
    assert confirmed["a"].state == "pending"
    assert time.now >= 10  # gave up at confirm_timeout_s
    assert max(time.sleeps) <= 4.0


async def test_an_element_without_a_rate_batch_is_active_at_once() -> None:
    ttd, time = BatchTradeDesk({}, polls_until_done=0), ClockAndSleep()
    client = await _created(ttd, time, [])
    assert (await client.confirm(["updated-without-cpm"]))["updated-without-cpm"].state == "active"
    assert ttd.polls == {}
