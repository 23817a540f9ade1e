"""The Trade Desk prices a push batch in one data-rate batch, processed and approved later: each priced item's
outcome carries its BatchId (kept in the ledger); confirm() polls ProcessingStatus and ApprovalStatus by those
BatchIds until active, failed or out of time; review() looks once. Any client asks about any batch: nothing is
kept in the process that sent it."""

from __future__ import annotations

import json

import httpx

from shared.connectors import ConnectorDeps, CreateSegmentParams, HttpSettings, create_platform_client
from shared.connectors.batch import CreateOperation, apply_batch
from shared.connectors.protocol import ConfirmingPlatformClient, PendingWrite
from tests.unit.connectors.connector_fakes import FakeSleep, ScriptedPlatform
from tests.unit.connectors.tradedesk_fakes import CONFIG, FakeTradeDesk, client_for


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
    """Each rate batch answers Pending until `done_after_s` of fake time, then the final statuses of its element."""

    def __init__(self, final: dict[str, tuple[str, str]], done_after_s: float, time: ClockAndSleep) -> None:
        self.final = final  # element id -> (ProcessingStatus, ApprovalStatus)
        self.done_after_s = done_after_s
        self.time = time
        self.polls: dict[str, int] = {}
        self.server = ScriptedPlatform(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/ttd")
        if path == "/v3/thirdpartydata":
            return httpx.Response(200, json=json.loads(request.content))
        if path == "/v3/datarate/batch":
            element = json.loads(request.content)["DataRates"][0]["ProviderElementId"]
            return httpx.Response(200, json={"BatchId": f"batch-{element}"})
        if path.startswith("/v3/datarate/batch/batch-"):
            element = path.rsplit("batch-", 1)[1]
            self.polls[element] = self.polls.get(element, 0) + 1
            processing, approval = ("Pending", "Pending")
            if self.time.now >= self.done_after_s:
                processing, approval = self.final[element]
            errors = ["CPM below the floor"] if processing == "Failed" else []
            status = {"ProcessingStatus": processing, "ApprovalStatus": approval, "Errors": errors}
            return httpx.Response(200, json={"BatchId": f"batch-{element}", **status})
        return httpx.Response(404, json={"Message": "no route"})


def segment(key: str) -> CreateSegmentParams:
    return CreateSegmentParams(name=key, description="", cpm=1.0, currency="USD", external_key=key)


def _client(ttd: BatchTradeDesk, time: ClockAndSleep) -> ConfirmingPlatformClient:
    client = create_platform_client(
        "tradedesk",
        "bearer",
        {"api_key": "ttd-token-abcdef"},
        {**CONFIG, "confirm_timeout_s": 10},
        settings=HttpSettings(),
        deps=ConnectorDeps(transport=ttd.server.transport, sleep=time.sleep, clock=time.clock),
    )
    assert isinstance(client, ConfirmingPlatformClient)
    return client


async def _pushed(ttd: BatchTradeDesk, time: ClockAndSleep, elements: list[str]) -> list[PendingWrite]:
    """Each element pushed in a batch of its own by a client that is then closed (a worker gone since): the
    writes as the ledger keeps them."""
    client = _client(ttd, time)
    writes = []
    for element in elements:
        [outcome] = await apply_batch(client, [CreateOperation(segment(element))], concurrency=1)
        assert outcome.platform_segment_id == element
        writes.append(PendingWrite(platform_segment_id=element, pending_ref=outcome.pending_ref))
    await client.aclose()
    return writes


async def test_a_push_batch_is_priced_in_one_rate_call(fake_sleep: FakeSleep) -> None:
    ttd = FakeTradeDesk()
    operations = [CreateOperation(segment(f"t{n}")) for n in range(25)]
    outcomes = await apply_batch(client_for(ttd, fake_sleep), operations, concurrency=4)
    assert all(outcome.succeeded for outcome in outcomes)
    assert {outcome.pending_ref for outcome in outcomes} == {"b1"}  # TTD's BatchId, for the ledger
    assert len(ttd.rate_batches) == 1
    assert sorted(rate["ProviderElementId"] for rate in ttd.rates) == sorted(f"t{n}" for n in range(25))
    assert len(ttd.server.paths()) == 26  # one element each, one rate batch for all


async def test_an_element_refused_fails_alone_and_is_not_priced(fake_sleep: FakeSleep) -> None:
    ttd = FakeTradeDesk()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and json.loads(request.content).get("ProviderElementId") == "hidden":
            return httpx.Response(403, json={"Message": "Parent element is not accessible."})
        return ttd.handle(request)

    ttd.server = ScriptedPlatform(handler)
    operations = [CreateOperation(segment(key)) for key in ("a", "hidden", "b")]
    outcomes = await apply_batch(client_for(ttd, fake_sleep), operations, concurrency=4)
    assert [outcome.error.code if outcome.error else None for outcome in outcomes] == [
        None,
        "permanent:403",
        None,
    ]
    assert [outcome.pending_ref for outcome in outcomes] == ["b1", None, "b1"]
    assert sorted(rate["ProviderElementId"] for rate in ttd.rates) == ["a", "b"]


async def test_a_refused_rate_batch_fails_the_items_it_priced(fake_sleep: FakeSleep) -> None:
    ttd = FakeTradeDesk()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/datarate/batch"):
            return httpx.Response(400, json={"Message": "BrandId is not managed by this provider"})
        return ttd.handle(request)

    ttd.server = ScriptedPlatform(handler)
    outcomes = await apply_batch(
        client_for(ttd, fake_sleep),
        [CreateOperation(segment("a")), CreateOperation(segment("b"))],
        concurrency=4,
    )
    assert [outcome.error.message if outcome.error else None for outcome in outcomes] == [
        "HTTP 400: BrandId is not managed by this provider"
    ] * 2
    assert [outcome.pending_ref for outcome in outcomes] == [None, None]


async def test_processed_approved_and_failed_batches_are_reported_per_element() -> None:
    final = {"a": ("Processed", "Approved"), "b": ("Failed", "Pending"), "c": ("Processed", "Rejected")}
    time = ClockAndSleep()
    ttd = BatchTradeDesk(final, done_after_s=0.5, time=time)
    writes = await _pushed(ttd, time, ["a", "b", "c"])
    assert [write.pending_ref for write in writes] == ["batch-a", "batch-b", "batch-c"]
    confirmed = await _client(ttd, time).confirm(writes)  # a client that sent none of them
    assert {key: found.state for key, found in confirmed.items()} == {
        "a": "active",
        "b": "failed",
        "c": "failed",
    }
    assert "CPM below the floor" in (confirmed["b"].message or "")
    assert "Rejected" in (confirmed["c"].message or "")
    assert time.sleeps == [0.25, 0.5]  # backoff between polls, no real waiting
    # Given after a batch still processing, b's and c's are read once a's is done, not in every round.
    assert ttd.polls == {"a": 3, "b": 1, "c": 1}


async def test_a_processed_rate_awaiting_approval_stays_pending() -> None:
    time = ClockAndSleep()
    ttd = BatchTradeDesk({"a": ("Processed", "Pending")}, done_after_s=0, time=time)
    writes = await _pushed(ttd, time, ["a"])
    assert (await _client(ttd, time).confirm(writes))["a"].state == "pending"
    assert time.now >= 10  # gave up at confirm_timeout_s


async def test_batches_still_processing_at_the_deadline_stay_pending() -> None:
    time = ClockAndSleep()
    ttd = BatchTradeDesk({"a": ("Processed", "Approved")}, done_after_s=1000, time=time)
    writes = await _pushed(ttd, time, ["a"])
    confirmed = await _client(ttd, time).confirm(writes)
    assert confirmed["a"].state == "pending"
    assert time.now >= 10
    assert max(time.sleeps) <= 4.0


async def test_a_write_recorded_without_a_batch_id_stays_pending_and_asks_nothing() -> None:
    time = ClockAndSleep()
    ttd = BatchTradeDesk({"a": ("Processed", "Approved")}, done_after_s=0, time=time)
    await _pushed(ttd, time, ["a"])
    # Written before the ledger kept BatchIds: its CPM's fate is unknown, so it is not taken as active.
    confirmed = await _client(ttd, time).confirm([PendingWrite(platform_segment_id="a")])
    assert confirmed["a"].state == "pending"
    assert "next push" in (confirmed["a"].message or "")
    assert await _client(ttd, time).review([PendingWrite(platform_segment_id="a")]) == {}
    assert ttd.polls == {}
    assert time.sleeps == []


async def test_any_client_reviews_the_batches_by_the_ids_the_ledger_kept() -> None:
    final = {"a": ("Processed", "Approved"), "b": ("Processed", "Pending"), "c": ("Failed", "Pending")}
    time = ClockAndSleep()
    ttd = BatchTradeDesk(final, done_after_s=0, time=time)
    writes = await _pushed(ttd, time, ["a", "b", "c"])  # the run ended before TTD was done

    poller_client = _client(ttd, time)  # the review poller, on any replica
    reviewed = await poller_client.review([*writes, PendingWrite(platform_segment_id="unpriced")])
    assert {key: found.state for key, found in reviewed.items()} == {
        "a": "active",
        "b": "pending",
        "c": "failed",
    }
    assert ttd.polls == {"a": 1, "b": 1, "c": 1}  # one look at each batch
    assert time.sleeps == []  # no waiting


async def test_a_batch_id_the_trade_desk_no_longer_knows_fails_its_element_alone() -> None:
    time = ClockAndSleep()
    ttd = BatchTradeDesk({"a": ("Processed", "Approved")}, done_after_s=0, time=time)
    writes = [
        *await _pushed(ttd, time, ["a"]),
        PendingWrite(platform_segment_id="b", pending_ref="forgotten"),
    ]
    for client_call in (_client(ttd, time).confirm, _client(ttd, time).review):
        found = await client_call(writes)
        assert {key: seen.state for key, seen in found.items()} == {"a": "active", "b": "failed"}
        assert "no data-rate batch 'forgotten'" in (found["b"].message or "")
