"""A sync run's closing: in its last page's transaction (completeness, soft deletes, high-water mark), or
outside a page (failure, cancel); observers hear of it either way."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import structlog

from services.sync_worker.store import SyncPageWriter, SyncRunStore
from shared.inbound.checkpoint import SyncCheckpoint
from shared.inbound.completion import judge, soft_delete_note
from shared.inbound.config import InboundConfig
from shared.inbound.watermarks import later
from shared.messages import RunFinished, deterministic_event_id
from shared.messaging.status_publisher import StatusPublisher
from shared.settings import Settings

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class SyncRunRef:
    run_id: uuid.UUID
    org_id: uuid.UUID
    connection_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class Closing:
    status: str
    reason: str | None


@dataclass(frozen=True, slots=True)
class SourceCount:
    """What the source said of its size: the evidence the last page's closing judges completeness by."""

    known_total: int | None  # the run's total when the source has a count endpoint
    recount: int | None  # the source's count again, after its last page
    recount_error: str | None


async def close_with_last_page(
    writer: SyncPageWriter,
    run: SyncRunRef,
    config: InboundConfig,
    settings: Settings,
    checkpoint: SyncCheckpoint,
    count: SourceCount,
    *,
    invalid: int,
) -> Closing:
    """Close the run in its last page's transaction: completeness, soft deletes, high-water mark."""
    verdict = judge(
        total=count.known_total,
        recount=count.recount,
        recount_error=count.recount_error,
        distinct=await writer.distinct_source_ids(run.run_id),
        invalid=invalid,
    )
    reasons = [verdict.reason]
    if verdict.verified and config.sync_mode == "full":
        share = settings.sync_max_delete_share
        deletes = await writer.soft_delete_unseen(
            org_id=run.org_id,
            connection_id=run.connection_id,
            run_id=run.run_id,
            max_share=share,
        )
        reasons.append(
            soft_delete_note(
                candidates=deletes.candidates,
                active=deletes.active,
                deleted=deletes.deleted,
                max_share=share,
            )
        )
    if verdict.complete and checkpoint.high_water_mark is not None:
        current = await writer.high_water_mark(run.connection_id)
        mark = later(current, checkpoint.high_water_mark)
        if mark is not None and mark != current:
            await writer.advance_high_water_mark(
                org_id=run.org_id,
                connection_id=run.connection_id,
                run_id=run.run_id,
                mark=mark,
            )
    reason = "; ".join(part for part in reasons if part) or None
    await writer.close_sync_run(run.run_id, status=verdict.status, reason=reason)
    return Closing(verdict.status, reason)


async def close_run(
    store: SyncRunStore, publisher: StatusPublisher, run: SyncRunRef, *, status: str, reason: str | None
) -> None:
    """End a sync run outside a page (failure, cancel) and tell observers; a no-op on a final run."""
    async with store.transaction() as writer:
        closed = await writer.close_sync_run(run.run_id, status=status, reason=reason)
    if closed:
        log.info("sync_run_closed", run_id=str(run.run_id), status=status, reason=reason)
        await publish_finished(publisher, run, Closing(status, reason))


async def publish_finished(publisher: StatusPublisher, run: SyncRunRef, closing: Closing) -> None:
    """Tell observers the run ended (it is already final in Postgres, so the recorder's finish is a no-op)."""
    await publisher.publish(
        [
            RunFinished(
                event_id=deterministic_event_id(run.run_id, "finished"),
                run_id=run.run_id,
                org_id=run.org_id,
                cancelled=closing.status == "cancelled",
                failed_reason=closing.reason if closing.status == "failed" else None,
            )
        ]
    )
