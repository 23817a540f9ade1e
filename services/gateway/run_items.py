"""A run's item results as the API shows them: JSON pages, and the same rows as a CSV stream.

Push runs itemise every topic (`run_items`, written by the status recorder). Sync runs list every record
they wrote or found unchanged (`run_items` too, written with each page, and the topics their close soft-
deleted) in topic id order, then the records they rejected (`sync_rejects`) as `invalid` items in the
order they were met: a sync cursor is a topic id while it is in the former, a reject's row number after.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from services.gateway.schemas import RunItemOut
from shared.db import run_history
from shared.db.pool import Db
from shared.db.runs import Run
from shared.db.sync_rejects import REJECT_ERROR_CODE, SyncReject, list_rejects

CSV_COLUMNS = [field.alias or name for name, field in RunItemOut.model_fields.items()]
CSV_CHUNK = 1000
SYNC_RECORD_OUTCOMES = frozenset({"inserted", "updated", "unchanged", "deleted"})

# Spreadsheets run a cell starting with one of these as a formula; platform messages are not trusted.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True, slots=True)
class ItemPage:
    items: list[RunItemOut]
    after: str | int | None  # where the next page starts; None on the last page


def _topic_id(item_id: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(item_id)
    except ValueError:
        return None


def _error_class(code: str | None) -> str | None:
    # Codes are `<class>:<http status>` or the bare class (PlatformError.code).
    return code.partition(":")[0] if code else None


async def _recorded_items(
    db: Db, run: Run, outcomes: Sequence[str], after: str | None, limit: int
) -> ItemPage:
    records = await run_history.list_run_items(db, run.id, outcomes, after=after, limit=limit + 1)
    page = records[:limit]
    topic_ids = {record.item_id: _topic_id(record.item_id) for record in page}
    # Read at listing time: the external id is the topic's, and topics are soft-deleted, never removed.
    known = {
        str(topic_id): external_id
        for topic_id, external_id in (
            await run_history.external_ids(db, run.org_id, [tid for tid in topic_ids.values() if tid])
        ).items()
    }
    items = [
        RunItemOut(
            item_id=record.item_id,
            topic_id=topic_ids[record.item_id],
            external_id=known.get(str(topic_ids[record.item_id])),
            outcome=record.outcome,
            planned_action=record.planned_action,
            segment_name=record.segment_name,
            platform_segment_id=record.platform_segment_id,
            error_class=_error_class(record.error_code),
            error_code=record.error_code,
            error_message=record.error_message,
            attempts=record.attempt,
            at=record.at,
        )
        for record in page
    ]
    return ItemPage(items, page[-1].item_id if len(records) > limit else None)


def _reject_item(reject: SyncReject) -> RunItemOut:
    return RunItemOut(
        item_id=f"{reject.page}:{reject.position}",
        topic_id=None,
        external_id=reject.source_id,
        outcome="invalid",
        planned_action=None,
        segment_name=None,
        platform_segment_id=None,
        error_class="invalid",
        error_code=REJECT_ERROR_CODE,
        error_message=reject.reason,
        attempts=1,
        at=reject.at,
    )


async def _sync_items(
    db: Db, run: Run, outcomes: Sequence[str], after: str | int | None, limit: int
) -> ItemPage:
    items: list[RunItemOut] = []
    if not isinstance(after, int):
        recorded = [outcome for outcome in outcomes if outcome in SYNC_RECORD_OUTCOMES]
        if recorded or not outcomes:
            page = await _recorded_items(db, run, recorded, after, limit)
            if page.after is not None:
                return page
            items = page.items
        after = 0  # reject row numbers start at 1
    if outcomes and "invalid" not in outcomes:
        return ItemPage(items, None)
    room = limit - len(items)
    rejects = await list_rejects(db, run.id, limit=room + 1, after=after)
    kept = rejects[:room]
    items += [_reject_item(reject) for reject in kept]
    return ItemPage(items, (kept[-1].id if kept else after) if len(rejects) > room else None)


async def item_page(
    db: Db, run: Run, outcomes: Sequence[str], *, after: str | int | None, limit: int
) -> ItemPage:
    """The run's items of the given outcomes (any when empty) after the position `after`."""
    if run.kind == "sync":
        return await _sync_items(db, run, outcomes, after, limit)
    return await _recorded_items(db, run, outcomes, after if isinstance(after, str) else None, limit)


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


async def item_csv(
    db: Db, run: Run, outcomes: Sequence[str], *, after: str | int | None
) -> AsyncIterator[str]:
    """Every item from `after` on as CSV (header first), read page by page while it is sent."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    while True:
        page = await item_page(db, run, outcomes, after=after, limit=CSV_CHUNK)
        for item in page.items:
            row = item.model_dump(mode="json", by_alias=True)
            writer.writerow([_cell(row[column]) for column in CSV_COLUMNS])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if page.after is None:
            return
        after = page.after
