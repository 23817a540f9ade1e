"""The push slice's rules, with fakes: the cursor moves only past recorded batches, in order; a slice
hands its run back at its budget and finishes it after the last batch; a refusal ends the run without
calling the platform again; a lost lease stops the slice; a cancel ends the run at a batch boundary."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Literal

from services.push_worker.execute import RunContext
from services.push_worker.plan import Action, PlannedItem
from services.push_worker.reader import PushCursor
from services.push_worker.slice import PushSlice, SliceBudget, SliceTarget
from shared.connectors import ErrorClass, PlatformError
from shared.connectors.protocol import (
    ConnectionTestResult,
    CreateSegmentParams,
    PlatformSegment,
    UpdateSegmentParams,
)
from shared.db.activations import ActivationWrite
from shared.messages import ItemOutcome, ItemResult

RUN = RunContext(run_id=uuid.uuid4(), org_id=uuid.uuid4(), currency="USD", data_source_location="", attempt=1)


def _item(name: str, action: Action = Action.CREATE) -> PlannedItem:
    return PlannedItem(
        topic_id=uuid.uuid4(),
        action=action,
        name=name,
        description="",
        cpm=1.0,
        content_hash=f"h-{name}",
        platform_segment_id=None if action is Action.CREATE else f"seg-{name}",
        external_key=f"key-{name}",
    )


class Batches:
    def __init__(self, count: int, size: int = 3, action: Action = Action.CREATE) -> None:
        self.batches = [[_item(f"b{b}-i{i}", action) for i in range(size)] for b in range(count)]
        self.read = 0

    async def next_batch(self) -> tuple[list[PlannedItem], PushCursor] | None:
        if self.read >= len(self.batches):
            return None
        self.read += 1
        batch = self.batches[self.read - 1]
        return batch, PushCursor(after=batch[-1].topic_id, batches=self.read, started=True)


class Lease:
    def __init__(
        self,
        *,
        lose_after: int | None = None,
        contended: bool = True,
        lane: int = 0,
        lanes_open: bool = False,
        lanes_failure: str | None = None,
    ) -> None:
        self.saved: list[int] = []
        self.finished = False
        self.finished_reason: str | None = None
        self.waiting: tuple[str | None] | None = None  # (reason,) once lane 0 waits for other lanes
        self._lose_after = lose_after
        self._contended = contended
        self._lane = lane
        self._lanes_open = lanes_open
        self._lanes_failure = lanes_failure
        self.lanes_open_answers: list[bool] = []

    @property
    def lost(self) -> bool:
        return self._lose_after is not None and len(self.saved) >= self._lose_after

    @property
    def lane(self) -> int:
        return self._lane

    async def other_lanes_open(self) -> bool:
        if self.lanes_open_answers:  # answers in turn (a lane closing between two questions)
            return self.lanes_open_answers.pop(0)
        return self._lanes_open

    async def lanes_failure(self) -> str | None:
        return self._lanes_failure

    async def wait_for_lanes(self, failed_reason: str | None) -> None:
        self.waiting = (failed_reason,)

    async def save(self, cursor: dict[str, object]) -> bool:
        if self.lost:
            return False
        self.saved.append(int(str(cursor["batches"])))
        return True

    async def finish(self, *, failed_reason: str | None = None) -> None:
        self.finished, self.finished_reason = True, failed_reason

    async def contended(self) -> bool:
        return self._contended


class Records:
    def __init__(self, *, cancel_at_check: int | None = None) -> None:
        self.ledger: list[ActivationWrite] = []
        self.events: list[ItemResult] = []
        self.ended: dict[str, object] | None = None
        self.confirmed = 0
        self._checks = 0
        self._cancel_at = cancel_at_check

    async def cancel_requested(self) -> bool:
        self._checks += 1
        return self._cancel_at is not None and self._checks >= self._cancel_at

    async def record(self, writes: Sequence[ActivationWrite]) -> None:
        self.ledger.extend(writes)

    async def publish(self, events: list[ItemResult]) -> None:
        self.events.extend(events)

    async def confirm(self) -> None:
        self.confirmed += 1

    async def finish(self, *, cancelled: bool = False, failed_reason: str | None = None) -> None:
        self.ended = {"cancelled": cancelled, "failed_reason": failed_reason}


class Platform:
    """Creates segments; the first batch's calls take longer, so batches finish out of order."""

    def __init__(self, *, refuse: bool = False, hidden: frozenset[str] = frozenset()) -> None:
        self.created: list[str] = []
        self.refuse = refuse  # the credentials are refused: every call, the connection test too
        self.hidden = hidden  # names answered 403 although the credentials are fine
        self.probes = 0

    async def create_segment(self, params: CreateSegmentParams) -> str:
        await asyncio.sleep(0.02 if params.name.startswith("b0-") else 0)
        if self.refuse:
            raise PlatformError(ErrorClass.AUTH, "HTTP 401: bad key", status_code=401)
        if params.name in self.hidden:
            raise PlatformError(ErrorClass.AUTH, "HTTP 403: not visible", status_code=403)
        self.created.append(params.name)
        return f"seg-{params.name}"

    async def update_segment(self, platform_segment_id: str, params: UpdateSegmentParams) -> None:  # noqa: ARG002
        return None

    async def deactivate_segment(self, platform_segment_id: str) -> None:  # noqa: ARG002
        return None

    async def get_segment(self, platform_segment_id: str) -> PlatformSegment | None:  # noqa: ARG002
        return None

    async def test_connection(self) -> ConnectionTestResult:
        self.probes += 1
        return ConnectionTestResult(
            success=not self.refuse, error="HTTP 401: bad key" if self.refuse else None
        )

    async def aclose(self) -> None:
        return None


async def _slice(
    batches: Batches,
    *,
    budget: int = 100,
    extendable: bool = True,
    lease: Lease | None = None,
    records: Records | None = None,
    platform: Platform | None = None,
    dry_run: bool = False,
    stopping: bool = False,
) -> tuple[Lease, Records, Platform]:
    lease, records, platform = lease or Lease(), records or Records(), platform or Platform()
    target = SliceTarget(client=platform, context=RUN, concurrency=2, batches_in_flight=2, dry_run=dry_run)
    stop = asyncio.Event()
    if stopping:
        stop.set()
    await PushSlice(
        lease, records, target, SliceBudget(batches=budget, seconds=60, extendable=extendable), stop
    ).run(batches)
    return lease, records, platform


async def test_a_run_within_one_slice_is_pushed_in_order_and_finished() -> None:
    batches = Batches(4)
    lease, records, platform = await _slice(batches)
    assert lease.saved == [1, 2, 3, 4]  # in order, although batch 0 finished after batch 1
    assert len(platform.created) == 12
    assert [event.outcome for event in records.events] == [ItemOutcome.CREATED] * 12
    assert {write.state for write in records.ledger} == {"active"}
    assert (records.ended, records.confirmed, lease.finished) == (
        {"cancelled": False, "failed_reason": None},
        1,
        True,
    )


async def test_a_slice_at_its_budget_hands_the_run_back_unfinished() -> None:
    lease, records, platform = await _slice(Batches(5), budget=2)
    assert lease.saved == [1, 2]
    assert len(platform.created) == 6
    assert (records.ended, lease.finished) == (None, False)


async def test_a_slice_nobody_waits_behind_goes_on_past_its_budget() -> None:
    lease, _records, platform = await _slice(Batches(5), budget=2, lease=Lease(contended=False))
    assert lease.saved == [1, 2, 3, 4, 5]
    assert len(platform.created) == 15
    assert lease.finished


async def test_a_step_batch_stops_at_its_one_batch_even_when_nobody_waits() -> None:
    lease, records, platform = await _slice(
        Batches(5), budget=1, extendable=False, lease=Lease(contended=False)
    )
    assert lease.saved == [1]
    assert len(platform.created) == 3
    assert (records.ended, lease.finished) == (None, False)


async def test_a_slice_whose_budget_ends_with_the_run_finishes_it() -> None:
    lease, records, _platform = await _slice(Batches(2), budget=2)
    assert lease.saved == [1, 2]
    assert lease.finished
    assert records.ended == {"cancelled": False, "failed_reason": None}


async def test_a_refusal_fails_the_rest_without_calling_the_platform_and_ends_the_run() -> None:
    platform = Platform(refuse=True)
    lease, records, _ = await _slice(Batches(4), budget=1, platform=platform)
    assert lease.saved == [1, 2, 3, 4]  # the budget does not stop a refused run from ending
    assert [event.outcome for event in records.events] == [ItemOutcome.FAILED] * 12
    assert {event.attempt for event in records.events[6:]} == {0}  # never sent
    assert records.ended is not None
    assert "refused the credentials" in str(records.ended["failed_reason"])
    assert lease.finished


async def test_an_items_403_fails_it_alone_when_the_connection_test_passes() -> None:
    platform = Platform(hidden=frozenset({"b1-i1", "b2-i0"}))
    lease, records, _ = await _slice(Batches(4), platform=platform)
    failed = [event for event in records.events if event.outcome is ItemOutcome.FAILED]
    assert sorted(event.segment_name or "" for event in failed) == ["b1-i1", "b2-i0"]
    assert {event.error_code for event in failed} == {"auth:403"}
    assert len(platform.created) == 12 - 2  # every other item was pushed
    assert platform.probes == 1  # one passed probe answers for the next auth error too
    assert records.ended == {"cancelled": False, "failed_reason": None}
    assert lease.finished


async def test_a_lost_lease_stops_the_slice_without_ending_the_run() -> None:
    lease, records, platform = await _slice(Batches(6), lease=Lease(lose_after=2))
    assert lease.saved == [1, 2]
    assert len(platform.created) <= 4 * 3  # at most the batches already in flight
    assert (records.ended, lease.finished) == (None, False)


async def test_a_cancel_ends_the_run_at_a_batch_boundary() -> None:
    lease, records, platform = await _slice(Batches(6), records=Records(cancel_at_check=3))
    assert lease.saved == [1, 2]
    assert len(platform.created) == 6
    assert records.ended == {"cancelled": True, "failed_reason": None}
    assert lease.finished


async def test_a_stopping_worker_hands_its_run_back_before_a_batch() -> None:
    lease, records, platform = await _slice(Batches(3), stopping=True)
    assert (lease.saved, platform.created, records.ended, lease.finished) == ([], [], None, False)


async def test_a_dry_run_plans_every_item_and_calls_nothing() -> None:
    lease, records, platform = await _slice(Batches(3), dry_run=True)
    assert lease.saved == [1, 2, 3]
    assert platform.created == []
    assert [event.outcome for event in records.events] == [ItemOutcome.PLANNED] * 9
    assert records.confirmed == 0
    assert lease.finished


class UnkeyedPlatform(Platform):
    """A platform whose creates carry no idempotency key (LiveRamp): it says so."""

    @property
    def unkeyed_creates(self) -> Literal[True]:
        return True


class TimedRecords(Records):
    """Notes, for each ledger write, which segments the platform had made by then."""

    def __init__(self, platform: Platform) -> None:
        super().__init__()
        self.platform = platform
        self.made_at_write: list[tuple[int, int]] = []  # (rows written, segments made so far)

    async def record(self, writes: Sequence[ActivationWrite]) -> None:
        self.made_at_write.append((len(writes), len(self.platform.created)))
        await super().record(writes)


async def test_without_idempotency_keys_each_new_segment_is_recorded_as_it_is_made() -> None:
    platform = UnkeyedPlatform()
    records = TimedRecords(platform)
    await _slice(Batches(2, size=4), records=records, platform=platform)
    singles = [made for rows, made in records.made_at_write if rows == 1]
    # Eight creates, each recorded alone while its batch was still running (then the batch's rows again).
    assert len(singles) == 8
    assert singles == sorted(singles)
    assert min(singles) < 4
    assert {write.platform_segment_id for write in records.ledger} == {f"seg-{n}" for n in platform.created}


async def test_platforms_with_idempotency_keys_record_a_batch_at_once() -> None:
    platform = Platform()
    records = TimedRecords(platform)
    await _slice(Batches(2, size=4), records=records, platform=platform)
    assert [rows for rows, _made in records.made_at_write] == [4, 4]


class FlakyRecords(Records):
    """The ledger's Postgres is away for the first `outage` writes."""

    def __init__(self, outage: int) -> None:
        super().__init__()
        self.outage = outage
        self.refused = 0

    async def record(self, writes: Sequence[ActivationWrite]) -> None:
        if self.refused < self.outage:
            self.refused += 1
            raise ConnectionRefusedError(111, "Connect call failed")
        await super().record(writes)


async def test_a_batch_made_on_the_platform_waits_out_a_postgres_outage_instead_of_being_made_again() -> None:
    records = FlakyRecords(outage=3)
    lease, _records, platform = await _slice(Batches(2), records=records)
    assert records.refused == 3
    assert len(platform.created) == 6  # nothing made twice
    assert len(records.ledger) == 6
    assert lease.saved == [1, 2]
    assert lease.finished


async def test_a_lane_other_than_the_first_closes_itself_without_ending_the_run() -> None:
    lease, records, platform = await _slice(Batches(3), lease=Lease(lane=2, lanes_open=True))
    assert lease.saved == [1, 2, 3]
    assert len(platform.created) == 9
    assert (lease.finished, lease.finished_reason) == (True, None)
    assert (records.ended, records.confirmed) == (None, 0)  # the run's end and confirmation are lane 0's


async def test_a_refused_lane_keeps_its_reason_for_the_runs_close() -> None:
    lease, records, _ = await _slice(Batches(2), lease=Lease(lane=1), platform=Platform(refuse=True))
    assert "refused the credentials" in str(lease.finished_reason)
    assert records.ended is None


async def test_lane_zero_done_first_waits_for_the_other_lanes_instead_of_ending_the_run() -> None:
    lease, records, platform = await _slice(Batches(2), lease=Lease(lanes_open=True))
    assert len(platform.created) == 6
    assert lease.waiting == (None,)
    assert (records.ended, records.confirmed, lease.finished) == (None, 0, False)


async def test_lane_zero_ends_the_run_with_another_lanes_failure() -> None:
    lease, records, _ = await _slice(
        Batches(1), lease=Lease(lanes_failure="the platform refused the credentials")
    )
    assert records.ended == {"cancelled": False, "failed_reason": "the platform refused the credentials"}
    assert (records.confirmed, lease.finished) == (1, True)


async def test_a_cancel_seen_by_lane_zero_waits_for_the_lanes_still_pushing() -> None:
    lease, records, _ = await _slice(
        Batches(6), lease=Lease(lanes_open=True), records=Records(cancel_at_check=2)
    )
    assert lease.waiting == (None,)
    assert records.ended is None


async def test_a_lane_closing_while_lane_zero_ends_cannot_make_it_skip_the_confirmation() -> None:
    lease = Lease()
    lease.lanes_open_answers = [True, False]
    _, records, _ = await _slice(Batches(1), lease=lease)
    # Asked once: the lanes were open, so lane 0 waits for them (and confirms when it is claimed again).
    assert (lease.waiting, records.ended, records.confirmed) == ((None,), None, 0)


class FlakyChecks(Records):
    """Postgres is away for the first `outage` cancel checks."""

    def __init__(self, outage: int) -> None:
        super().__init__()
        self.outage = outage

    async def cancel_requested(self) -> bool:
        if self.outage:
            self.outage -= 1
            raise ConnectionRefusedError(111, "Connect call failed")
        return await super().cancel_requested()


class FlakySaves(Lease):
    """Postgres is away for the first `outage` cursor saves."""

    def __init__(self, outage: int) -> None:
        super().__init__()
        self.outage = outage

    async def save(self, cursor: dict[str, object]) -> bool:
        if self.outage:
            self.outage -= 1
            raise ConnectionRefusedError(111, "Connect call failed")
        return await super().save(cursor)


async def test_a_slice_waits_out_a_postgres_outage_at_its_cancel_checks_and_cursor_saves() -> None:
    # Failing the slice there would drop the batches in flight, and creates without a key be made again.
    flaky_records, flaky_lease = FlakyChecks(outage=2), FlakySaves(outage=2)
    lease, _records, platform = await _slice(Batches(3), lease=flaky_lease, records=flaky_records)
    assert len(platform.created) == 9  # each once
    assert lease.saved == [1, 2, 3]
    assert lease.finished
