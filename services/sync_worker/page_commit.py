"""A sync page's commit: one transaction for its topics, rejects, counters and checkpoint (and, on the
last page, the run's closing), under the run's row lock."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from services.sync_worker.closing import Closing, SourceCount, SyncRunRef, close_with_last_page
from shared.db import sync_runs
from shared.db.sync_rejects import store_rejects
from shared.db.topics import TopicFields, upsert_rendered_topics
from shared.inbound.checkpoint import SyncCheckpoint
from shared.inbound.classify import plan_page
from shared.inbound.config import InboundConfig
from shared.inbound.mapping import InvalidRecord, MappedTopic
from shared.settings import Settings


@dataclass(frozen=True, slots=True)
class Fetched:
    """A page as the source gave it, and the checkpoint past it."""

    records: list[MappedTopic | InvalidRecord]  # mapped while the previous page commits
    following: SyncCheckpoint
    count: SourceCount


@dataclass(frozen=True, slots=True)
class CommittedPage:
    counts: sync_runs.PageCounts
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


async def commit_page(
    pool: asyncpg.Pool[Any],
    run: SyncRunRef,
    config: InboundConfig,
    settings: Settings,
    before: SyncCheckpoint,
    fetched: Fetched,
) -> CommittedPage | Cancelled | None:
    """Write the page after `before`; None when another delivery moved the run on (the page is not ours)."""
    number = before.page + 1
    records, after = fetched.records, fetched.following
    async with pool.acquire() as connection, connection.transaction():
        state = await sync_runs.sync_run_state(connection, run.run_id, lock=True)
        # Another delivery of the command moved the run on (or ended it): this page is not ours.
        if state is None or state.status != "running" or state.checkpoint is None:
            return None
        if state.checkpoint.page != before.page:
            return None
        if state.cancel_requested:
            return CANCELLED
        source_ids = [record.source_id for record in records if record.source_id is not None]
        new_ids, stored = await sync_runs.claim_source_ids(connection, run.run_id, run.org_id, source_ids)
        plan = plan_page(records, new_ids, stored, run.connection_id)
        created, updated = (0, 0)
        if plan.upserts:
            fields = [_topic_fields(topic, run.connection_id) for topic in plan.upserts]
            # Keeps the output templates' rendered names in step with the synced topics.
            written = await upsert_rendered_topics(
                connection, run.org_id, fields, render_batch=settings.output_render_batch
            )
            created = sum(1 for _topic_id, was_created in written if was_created)
            updated = len(written) - created
        errors_stored = await store_rejects(
            connection,
            run.run_id,
            page=number,
            rejects=plan.invalid,
            payload_limit=settings.sync_reject_payload_max_chars,
            error_room=settings.max_run_errors_stored - state.errors_stored,
        )
        counts = sync_runs.PageCounts(
            records=len(records),
            inserted=created,
            updated=updated,
            unchanged=plan.unchanged,
            invalid=len(plan.invalid),
            duplicates=plan.duplicates,
            errors_stored=errors_stored,
        )
        await sync_runs.record_page(connection, run.run_id, counts, after)
        closing = None
        if after.done:
            closing = await close_with_last_page(
                connection,
                run,
                config,
                settings,
                after,
                fetched.count,
                invalid=state.invalid + counts.invalid,
            )
    return CommittedPage(counts, closing)
