"""A sync page's commit: one transaction for its topics, record outcomes (run items), rejects, counters and
checkpoint (and, on the last page, the run's closing), under the run's row lock."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from services.sync_worker.closing import Closing, SourceCount, SyncRunRef, close_with_last_page
from services.sync_worker.store import SyncPageWriter, SyncRunStore
from shared.db import sync_runs
from shared.db.topics import TopicFields
from shared.inbound.checkpoint import SyncCheckpoint
from shared.inbound.classify import PagePlan, plan_pages
from shared.inbound.config import InboundConfig
from shared.inbound.mapping import InvalidRecord, MappedTopic
from shared.messages import deterministic_event_id
from shared.settings import Settings


@dataclass(frozen=True, slots=True)
class Fetched:
    """A page as the source gave it, and the checkpoint past it."""

    records: list[MappedTopic | InvalidRecord]  # mapped while the previous page commits
    following: SyncCheckpoint
    count: SourceCount


@dataclass(frozen=True, slots=True)
class CommittedPages:
    counts: list[sync_runs.PageCounts]  # one per page, in order: each page keeps its own event
    closing: Closing | None


class Cancelled:
    """The run's cancel was found under the page's row lock: nothing of the page is written."""


CANCELLED = Cancelled()


def _topic_fields(topic: MappedTopic, connection_id: uuid.UUID) -> TopicFields:
    return TopicFields(
        name=topic.name,
        parent_category=topic.parent_category,
        path=list(topic.path),
        description=topic.description,
        external_id=topic.source_id,
        cpm=topic.cpm,
        attributes=topic.attributes,
        source_connection_id=connection_id,
    )


async def commit_pages(
    store: SyncRunStore,
    run: SyncRunRef,
    config: InboundConfig,
    settings: Settings,
    before: SyncCheckpoint,
    batch: Sequence[Fetched],
) -> CommittedPages | Cancelled | None:
    """Write the consecutive pages after `before` in one transaction: one classification for all of them,
    one upsert, one move of the counters and the checkpoint (past the last). None when another delivery
    moved the run on (the pages are not ours)."""
    async with store.transaction() as writer:
        state = await writer.run_state(run.run_id, lock=True)
        # Another delivery of the command moved the run on (or ended it): these pages are not ours.
        if state is None or state.status != "running" or state.checkpoint is None:
            return None
        if state.checkpoint.page != before.page:
            return None
        if state.cancel_requested:
            return CANCELLED
        source_ids = [r.source_id for page in batch for r in page.records if r.source_id is not None]
        new_ids, stored = await writer.claim_source_ids(run.run_id, run.org_id, source_ids)
        plans = plan_pages([page.records for page in batch], new_ids, stored, run.connection_id)
        written, created = await _upsert(writer, run, settings, plans)
        counts: list[sync_runs.PageCounts] = []
        error_room = settings.max_run_errors_stored - state.errors_stored
        for number, plan in enumerate(plans, start=before.page + 1):
            errors_stored = await writer.store_rejects(
                run.run_id,
                page=number,
                rejects=plan.invalid,
                payload_limit=settings.sync_reject_payload_max_chars,
                error_room=error_room,
            )
            error_room -= errors_stored
            inserted = created[number - before.page - 1]
            counts.append(
                sync_runs.PageCounts(
                    records=plan.records,
                    inserted=inserted,
                    updated=len(plan.upserts) - inserted,
                    unchanged=plan.unchanged,
                    invalid=len(plan.invalid),
                    duplicates=plan.duplicates,
                    errors_stored=errors_stored,
                )
            )
        after = batch[-1].following
        total = _summed(counts)
        items = _run_items(run, before, written, plans)
        await writer.record_page(run.run_id, total, after, pages=len(batch), items=items)
        closing = None
        if after.done:
            closing = await close_with_last_page(
                writer,
                run,
                config,
                settings,
                after,
                batch[-1].count,
                invalid=state.invalid + total.invalid,
            )
    return CommittedPages(counts, closing)


def _run_items(
    run: SyncRunRef, before: SyncCheckpoint, written: list[tuple[uuid.UUID, bool]], plans: list[PagePlan]
) -> sync_runs.RunItems:
    """Every record the pages wrote or found unchanged, listed as the run's items."""
    unchanged = [topic_id for plan in plans for topic_id in plan.unchanged_topic_ids]
    return sync_runs.RunItems(
        # One commit per checkpoint it starts from: a replay of these pages reproduces the id.
        event_id=deterministic_event_id(run.run_id, "pages after", before.page),
        topic_ids=[topic_id for topic_id, _ in written] + unchanged,
        outcomes=["inserted" if was_created else "updated" for _, was_created in written]
        + ["unchanged"] * len(unchanged),
    )


async def _upsert(
    writer: SyncPageWriter, run: SyncRunRef, settings: Settings, plans: list[PagePlan]
) -> tuple[list[tuple[uuid.UUID, bool]], list[int]]:
    """Upsert every page's inserts and updates in one statement: each topic written (id, created), and
    how many each page created."""
    page_of = {topic.source_id: index for index, plan in enumerate(plans) for topic in plan.upserts}
    if not page_of:
        return [], [0] * len(plans)
    # One lock order for every writer of the org's topics: no deadlock between concurrent syncs.
    upserts = sorted((topic for plan in plans for topic in plan.upserts), key=lambda topic: topic.source_id)
    fields = [_topic_fields(topic, run.connection_id) for topic in upserts]
    written = await writer.upsert_topics(run.org_id, fields, render_batch=settings.output_render_batch)
    created_ids = [topic_id for topic_id, was_created in written if was_created]
    # The upsert, not the classification, says what was created (a concurrent writer may have come
    # first); all created or none needs no lookup to tell which page each belongs to.
    if len(plans) == 1:
        return written, [len(created_ids)]
    if not created_ids:
        return written, [0] * len(plans)
    if len(created_ids) == len(upserts):
        return written, [len(plan.upserts) for plan in plans]
    per_page = [0] * len(plans)
    for external_id in await writer.external_ids_of(created_ids):
        per_page[page_of[external_id]] += 1
    return written, per_page


def _summed(counts: list[sync_runs.PageCounts]) -> sync_runs.PageCounts:
    return sync_runs.PageCounts(
        records=sum(page.records for page in counts),
        inserted=sum(page.inserted for page in counts),
        updated=sum(page.updated for page in counts),
        unchanged=sum(page.unchanged for page in counts),
        invalid=sum(page.invalid for page in counts),
        duplicates=sum(page.duplicates for page in counts),
        errors_stored=sum(page.errors_stored for page in counts),
    )
