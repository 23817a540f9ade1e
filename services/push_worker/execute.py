"""Carries out one batch of planned items on the platform and turns the outcomes into events and ledger rows."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from services.push_worker.plan import Action, PlannedItem
from shared.connectors.batch import (
    CallSlots,
    CreateOperation,
    DeactivateOperation,
    OutcomeHook,
    SegmentOperation,
    SegmentOutcome,
    UpdateOperation,
    apply_batch,
)
from shared.connectors.errors import ErrorClass, PlatformError
from shared.connectors.failures import trim
from shared.connectors.protocol import (
    ConfirmingPlatformClient,
    CreateSegmentParams,
    PlatformClient,
    UnkeyedCreatePlatformClient,
    UpdateSegmentParams,
)
from shared.db.activations import ActivationWrite
from shared.messages import ItemOutcome, ItemResult, deterministic_event_id

_DONE = {
    Action.CREATE: ItemOutcome.CREATED,
    Action.UPDATE: ItemOutcome.UPDATED,
    Action.DEACTIVATE: ItemOutcome.DEACTIVATED,
    Action.MOVE: ItemOutcome.UPDATED,  # the topic's segment is now a new one, under its new path
}


Record = Callable[[Sequence[ActivationWrite]], Awaitable[None]]
"""Makes ledger rows durable (the slice's `RunRecords.record`)."""


@dataclass(frozen=True, slots=True)
class BatchResult:
    events: list[ItemResult]
    ledger: list[ActivationWrite]
    auth_error: PlatformError | None


@dataclass(frozen=True, slots=True)
class RunContext:
    run_id: uuid.UUID
    org_id: uuid.UUID
    currency: str
    data_source_location: str
    attempt: int


def item_event(
    context: RunContext,
    item: PlannedItem,
    outcome: ItemOutcome,
    *,
    platform_segment_id: str | None = None,
    error: PlatformError | None = None,
    planned_action: str | None = None,
) -> ItemResult:
    """The one terminal event of a topic in this run (same id on every redelivery)."""
    return ItemResult(
        event_id=deterministic_event_id(context.run_id, "item", item.topic_id),
        run_id=context.run_id,
        org_id=context.org_id,
        item_id=str(item.topic_id),
        outcome=outcome,
        # Dry runs say what each item would do; reconcile runs also what drift they found.
        planned_action=planned_action
        or (item.reported_action if item.drift is not None or item.action is Action.MOVE else None),
        segment_name=item.name or None,
        platform_segment_id=platform_segment_id,
        error_code=error.code if error else None,
        error_message=error.message if error else None,
        # A failed item: the platform calls made for it (retries included), not the command's delivery.
        attempt=error.attempts if error else context.attempt,
    )


def _operation(context: RunContext, item: PlannedItem) -> SegmentOperation:
    if item.action in (Action.CREATE, Action.MOVE):
        return CreateOperation(
            CreateSegmentParams(
                name=item.name,
                description=item.description,
                cpm=item.cpm,
                currency=context.currency,
                data_source_location=context.data_source_location,
                external_key=item.external_key,
                ancestors=item.ancestors,
                attributes=item.attributes,
            )
        )
    assert item.platform_segment_id is not None
    if item.action is Action.UPDATE:
        return UpdateOperation(
            item.platform_segment_id,
            UpdateSegmentParams(
                name=item.name,
                description=item.description,
                cpm=item.cpm,
                currency=context.currency,
                ancestors=item.ancestors,
            ),
        )
    return DeactivateOperation(item.platform_segment_id)


def _ledger_row(item: PlannedItem, outcome: SegmentOutcome, *, confirms: bool) -> ActivationWrite:
    if outcome.error is not None:
        return ActivationWrite(
            item.topic_id, item.platform_segment_id, None, "failed", ItemOutcome.FAILED.value
        )
    # A platform that finishes writes later keeps the segment `pending` until it confirms.
    state = "inactive" if item.action is Action.DEACTIVATE else "pending" if confirms else "active"
    made = item.action in (Action.CREATE, Action.MOVE)
    return ActivationWrite(
        item.topic_id,
        outcome.platform_segment_id or item.platform_segment_id,
        item.content_hash,
        state,
        _DONE[item.action].value,
        # Where the segment was made; an update cannot change it (TTD keeps an element's parent).
        platform_path=item.ancestors if made else None,
        replaces=item.replaces,
        # What the platform knows the write by until it is finished (TTD's BatchId): any worker asks with it.
        pending_ref=outcome.pending_ref,
    )


async def _retire_replaced(
    client: PlatformClient,
    writes: Sequence[PlannedItem],
    outcomes: list[SegmentOutcome],
    *,
    concurrency: int,
    slots: CallSlots,
) -> list[SegmentOutcome]:
    """Deactivate the segments that moved items' new segments replace; a move fails if that fails.

    After the new segments are made, so a moved topic is never without a live segment; a failed move keeps
    the ledger's old segment and path, so the next run moves it again (both steps are idempotent).
    """
    moved = [
        index
        for index, (item, outcome) in enumerate(zip(writes, outcomes, strict=True))
        if item.action is Action.MOVE and item.replaces is not None and outcome.error is None
    ]
    retired = await apply_batch(
        client,
        [DeactivateOperation(str(writes[index].replaces)) for index in moved],
        concurrency=concurrency,
        slots=slots,
    )
    result = list(outcomes)
    for index, retirement in zip(moved, retired, strict=True):
        error = retirement.error
        if error is None or error.status_code == 404:  # already gone from the platform: nothing to retire
            continue
        message = (
            f"moved to {result[index].platform_segment_id!r}, but the replaced segment "
            f"{writes[index].replaces!r} was not deactivated: {error.message}"
        )
        failure = PlatformError(
            error.error_class,
            trim(message),
            status_code=error.status_code,
            retry_after=error.retry_after,
            attempts=error.attempts,
        )
        result[index] = SegmentOutcome(result[index].operation, error=failure)
    return result


def _made_at_once(writes: Sequence[PlannedItem], record: Record, *, confirms: bool) -> OutcomeHook:
    """Records each new segment as soon as the platform answered its create (a platform without
    idempotency keys: a crash must not leave a made segment out of the ledger until the batch ends)."""

    async def made(index: int, outcome: SegmentOutcome) -> None:
        item = writes[index]
        if outcome.error is None and item.action is Action.CREATE:
            await record([_ledger_row(item, outcome, confirms=confirms)])

    return made


async def execute_batch(
    context: RunContext,
    items: Sequence[PlannedItem],
    client: PlatformClient,
    *,
    concurrency: int,
    slots: CallSlots | None = None,
    record: Record | None = None,
) -> BatchResult:
    """Apply the writes of a batch; unchanged and replayed items are reported without a platform call.

    `slots`: the run's call slots, shared with the other batch in flight. `record`: on a platform whose
    creates carry no idempotency key, each created segment's ledger row is written with it as it is made.
    """
    events: list[ItemResult] = []
    ledger: list[ActivationWrite] = []
    writes = [item for item in items if item.action in _DONE]
    slots = slots or CallSlots(concurrency)
    confirms = isinstance(client, ConfirmingPlatformClient)
    answered = (
        _made_at_once(writes, record, confirms=confirms)
        if record is not None and isinstance(client, UnkeyedCreatePlatformClient)
        else None
    )
    outcomes = await apply_batch(
        client,
        [_operation(context, item) for item in writes],
        concurrency=concurrency,
        slots=slots,
        answered=answered,
    )
    outcomes = await _retire_replaced(client, writes, outcomes, concurrency=concurrency, slots=slots)
    # An item's 401/403 alone fails that item; the run stops only once the connection's test failed too.
    auth_error = slots.rejected
    for item, outcome in zip(writes, outcomes, strict=True):
        ledger.append(_ledger_row(item, outcome, confirms=confirms))
        if outcome.error is not None:
            events.append(item_event(context, item, ItemOutcome.FAILED, error=outcome.error))
        else:
            platform_id = outcome.platform_segment_id or item.platform_segment_id
            events.append(item_event(context, item, _DONE[item.action], platform_segment_id=platform_id))
    for item in items:
        if item.action is Action.UNCHANGED:
            events.append(
                item_event(context, item, ItemOutcome.SKIPPED, platform_segment_id=item.platform_segment_id)
            )
        elif item.action is Action.REPLAY:
            events.append(
                item_event(
                    context,
                    item,
                    ItemOutcome(item.replay_outcome or ItemOutcome.SKIPPED),
                    platform_segment_id=item.platform_segment_id,
                )
            )
    return BatchResult(events=events, ledger=ledger, auth_error=auth_error)


def plan_events(context: RunContext, items: Sequence[PlannedItem]) -> list[ItemResult]:
    """Dry run: what each item would do, with its rendered name, and no platform call."""
    return [
        item_event(
            context,
            item,
            ItemOutcome.PLANNED,
            platform_segment_id=item.platform_segment_id,
            planned_action=item.reported_action,
        )
        for item in items
    ]


def abandoned_events(
    context: RunContext, items: Sequence[PlannedItem], reason: PlatformError
) -> list[ItemResult]:
    """Items not attempted because the platform already refused the credentials."""
    error = PlatformError(
        ErrorClass.AUTH, f"not attempted: {reason.message}", status_code=reason.status_code, attempts=0
    )
    return [item_event(context, item, ItemOutcome.FAILED, error=error) for item in items]
