"""The sync run driver's rules, with fakes: a first sync inserts and checkpoints every page; the same records
again change nothing; a changed record alone is updated; a record gone from a full sync is deactivated
(within the allowed share); a bad record is rejected alone; a run resumes from its checkpoint; a cancel
ends it at a page boundary."""

from __future__ import annotations

import uuid
from typing import Any

from services.sync_worker.closing import SyncRunRef
from services.sync_worker.pages import SyncRunDriver
from shared.messages import RunFinished, RunStarted, SyncPageRecorded
from shared.settings import Settings
from tests.unit.inbound.inbound_fakes import inbound_config
from tests.unit.workers.sync_fakes import Events, FakeSyncRuns, Listing

ORG, CONNECTION = uuid.uuid4(), uuid.uuid4()
SETTINGS = Settings(sync_commit_max_pages=1)  # one commit a page: each page moves the checkpoint


def _driver(store: FakeSyncRuns, listing: Listing, events: Events, run_id: uuid.UUID) -> SyncRunDriver:
    config = inbound_config(sync_mode="full")
    return SyncRunDriver(
        run=SyncRunRef(run_id=run_id, org_id=ORG, connection_id=CONNECTION),
        config=config,
        source=listing.source(config),
        store=store,
        settings=SETTINGS,
        publisher=events,
    )


async def _sync(
    store: FakeSyncRuns, listing: Listing, *, limit: int | None = None, **run: Any
) -> tuple[uuid.UUID, Events]:
    """Start a new run and page it to its end (or `limit` pages)."""
    run_id = store.new_run(**run)
    events = Events()
    driver = _driver(store, listing, events, run_id)
    checkpoint = await driver.start()
    if checkpoint is not None:
        await driver.pages(checkpoint, total=store.runs[run_id].total, limit=limit)
    return run_id, events


def _outcomes(store: FakeSyncRuns, run_id: uuid.UUID) -> dict[str, int]:
    counted: dict[str, int] = {}
    for outcome in store.items.get(run_id, {}).values():
        counted[outcome] = counted.get(outcome, 0) + 1
    return counted


async def test_a_first_sync_inserts_every_record_and_checkpoints_each_page() -> None:
    store, listing = FakeSyncRuns(ORG), Listing(5)  # pages of 2: 2, 2, 1
    run_id, events = await _sync(store, listing)
    run = store.runs[run_id]
    assert run.status == "succeeded"
    assert store.checkpoints == [1, 2, 3]
    assert run.checkpoint is not None
    assert run.checkpoint.done
    assert (run.counts.records, run.counts.inserted, run.counts.unchanged) == (5, 5, 0)
    assert sorted(store.topics) == [f"dmp-{index:04d}" for index in range(5)]
    assert [event.page for event in events.of(SyncPageRecorded)] == [1, 2, 3]
    assert [event.inserted for event in events.of(SyncPageRecorded)] == [2, 2, 1]
    assert events.of(SyncPageRecorded)[-1].run_status == "succeeded"
    assert len(events.of(RunStarted)) == 1
    assert len(events.of(RunFinished)) == 1
    assert _outcomes(store, run_id) == {"inserted": 5}


async def test_the_same_records_again_are_skipped_unchanged() -> None:
    store, listing = FakeSyncRuns(ORG), Listing(5)
    await _sync(store, listing)
    written = store.upserted
    run_id, events = await _sync(store, listing)
    run = store.runs[run_id]
    assert run.status == "succeeded"
    assert store.upserted == written  # nothing written again
    assert (run.counts.inserted, run.counts.updated, run.counts.unchanged) == (0, 0, 5)
    assert [event.unchanged for event in events.of(SyncPageRecorded)] == [2, 2, 1]
    assert _outcomes(store, run_id) == {"unchanged": 5}


async def test_a_changed_record_alone_is_updated() -> None:
    store, listing = FakeSyncRuns(ORG), Listing(5)
    await _sync(store, listing)
    first_id = store.topic("dmp-0003").topic_id
    listing.records[3]["segment_name"] = "Renamed"
    run_id, _events = await _sync(store, listing)
    run = store.runs[run_id]
    assert (run.counts.inserted, run.counts.updated, run.counts.unchanged) == (0, 1, 4)
    assert store.topic("dmp-0003").name == "Renamed"
    assert store.topic("dmp-0003").topic_id == first_id  # the same topic, updated in place
    assert _outcomes(store, run_id) == {"updated": 1, "unchanged": 4}


async def test_a_record_gone_from_a_full_sync_is_deactivated() -> None:
    store, listing = FakeSyncRuns(ORG), Listing(10)
    await _sync(store, listing)
    gone = listing.records.pop(4)["segment_id"]  # 1 of 10: within the 20% a run may delete
    run_id, _events = await _sync(store, listing)
    assert store.runs[run_id].status == "succeeded"
    assert store.topic(gone).status == "deleted"
    assert all(topic.status == "active" for key, topic in store.topics.items() if key != gone)
    assert _outcomes(store, run_id) == {"unchanged": 9, "deleted": 1}


async def test_more_records_gone_than_the_allowed_share_deactivates_none() -> None:
    store, listing = FakeSyncRuns(ORG), Listing(10)
    await _sync(store, listing)
    del listing.records[5:]  # half the source vanished: more likely an outage than deletions
    run_id, _events = await _sync(store, listing)
    assert all(topic.status == "active" for topic in store.topics.values())
    assert "deleted" not in _outcomes(store, run_id)


async def test_a_bad_record_is_rejected_alone() -> None:
    store, listing = FakeSyncRuns(ORG), Listing(5)
    del listing.records[2]["segment_name"]  # on the second page
    run_id, events = await _sync(store, listing)
    run = store.runs[run_id]
    assert run.status == "partial"
    assert (run.counts.inserted, run.counts.invalid) == (4, 1)
    assert "dmp-0002" not in store.topics
    assert [(page, reject.source_id) for page, reject in store.rejects] == [(2, "dmp-0002")]
    assert [event.invalid for event in events.of(SyncPageRecorded)] == [0, 1, 0]


async def test_a_run_resumes_from_its_checkpoint_without_asking_for_a_page_again() -> None:
    store, listing = FakeSyncRuns(ORG), Listing(5)
    run_id, first = await _sync(store, listing, limit=1)
    run = store.runs[run_id]
    assert (run.status, store.checkpoints, listing.offsets) == ("running", [1], [0])
    assert run.checkpoint is not None
    # The next slice (another replica, after a crash) starts from the stored checkpoint.
    events = Events()
    await _driver(store, listing, events, run_id).pages(run.checkpoint, total=run.total, limit=None)
    assert run.status == "succeeded"
    assert listing.offsets == [0, 2, 4]
    assert store.checkpoints == [1, 2, 3]
    assert [event.page for event in first.of(SyncPageRecorded) + events.of(SyncPageRecorded)] == [1, 2, 3]
    assert run.counts.inserted == 5


async def test_a_cancel_ends_the_run_at_a_page_boundary_and_keeps_the_checkpoint() -> None:
    store, listing = FakeSyncRuns(ORG), Listing(5)
    run_id, _first = await _sync(store, listing, limit=1)
    run = store.runs[run_id]
    run.cancel_requested = True
    events = Events()
    assert run.checkpoint is not None
    await _driver(store, listing, events, run_id).pages(run.checkpoint, total=run.total, limit=None)
    assert run.status == "cancelled"
    assert run.reason == "cancelled at a page boundary after 1 pages; checkpoint kept"
    assert run.checkpoint.page == 1  # kept where the last page left it
    assert listing.offsets == [0]
    assert [event.cancelled for event in events.of(RunFinished)] == [True]
