"""Apply a batch of segment operations so that one bad item fails alone, natively where possible."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol, runtime_checkable

import structlog

from shared.connectors.errors import ErrorClass, PlatformError
from shared.connectors.protocol import CreateSegmentParams, PlatformClient, UpdateSegmentParams

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class CreateOperation:
    """Create a segment (idempotent through `params.external_key`)."""

    params: CreateSegmentParams


@dataclass(frozen=True)
class UpdateOperation:
    """Update an existing segment."""

    platform_segment_id: str
    params: UpdateSegmentParams


@dataclass(frozen=True)
class DeactivateOperation:
    """Deactivate an existing segment."""

    platform_segment_id: str


SegmentOperation = CreateOperation | UpdateOperation | DeactivateOperation


@dataclass(frozen=True)
class SegmentOutcome:
    """What became of one operation: the platform segment id, or the error."""

    operation: SegmentOperation
    platform_segment_id: str | None = None
    error: PlatformError | None = None
    # The platform's reference of a write it finishes later (TTD's data-rate BatchId), kept with the ledger row.
    pending_ref: str | None = None

    @property
    def succeeded(self) -> bool:
        """True when the platform accepted the operation."""
        return self.error is None


@runtime_checkable
class BatchPlatformClient(PlatformClient, Protocol):
    """A platform that takes many operations in one call, all or nothing."""

    async def apply_operations(self, operations: Sequence[SegmentOperation]) -> list[str]:
        """Apply every operation in one platform call; return the platform ids in order, or raise."""
        ...


@dataclass(frozen=True)
class BatchCompletion:
    """A batch's shared call: the errors by platform id (the rest succeeded), and the reference each
    succeeded item's write is known by on the platform until it is finished (by platform id)."""

    errors: dict[str, PlatformError] = field(default_factory=dict)
    pending_refs: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class BatchCompletingClient(PlatformClient, Protocol):
    """A platform whose writes are a call per item plus one call for the whole batch (TTD: elements, then
    one data-rate batch), so a bad item still fails alone."""

    async def apply_item(self, operation: SegmentOperation) -> str:
        """The item's own call(s); return the platform id. What the batch shares waits for `complete_batch`."""
        ...

    async def complete_batch(self, applied: Sequence[SegmentOutcome]) -> BatchCompletion:
        """The batch's shared call for the items applied: the errors, and the succeeded items' references."""
        ...


PROBE_TRUSTED_S = 30.0
"""How long a passed credentials probe answers for later items' auth errors (no probe per item)."""


class CallSlots:
    """A connection's concurrent platform calls, shared by every batch of a run that is in flight at once.

    An item answered 401/403 does not stop the run by itself (a platform may say 403 for one entity it
    hides): the connection's test is made once, and only when it fails too are the credentials refused;
    the calls still waiting for a slot are then not made.
    """

    def __init__(self, concurrency: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = asyncio.Semaphore(max(1, concurrency))
        self.rejected: PlatformError | None = None
        self._probe = asyncio.Lock()
        self._clock = clock
        self._passed_at: float | None = None

    async def credentials_refused(self, client: PlatformClient, error: PlatformError) -> bool:
        """After an item's auth error: whether the connection's own test fails too (then `rejected`)."""
        async with self._probe:
            if self.rejected is not None:
                return True
            if self._passed_at is not None and self._clock() - self._passed_at < PROBE_TRUSTED_S:
                return False
            try:
                passed = (await client.test_connection()).success
            except PlatformError:
                passed = False
            if passed:
                self._passed_at = self._clock()
                log.info("auth_error_not_the_credentials", error_code=error.code)
                return False
            self.rejected = error
            return True


OutcomeHook = Callable[[int, SegmentOutcome], Awaitable[None]]
"""Called with an operation's index and outcome as soon as the platform answered it (one call per call)."""


async def apply_batch(
    client: PlatformClient,
    operations: Sequence[SegmentOperation],
    *,
    concurrency: int,
    slots: CallSlots | None = None,
    answered: OutcomeHook | None = None,
) -> list[SegmentOutcome]:
    """One outcome per operation, in order; never raises for a platform failure.

    `slots` bounds the calls together with other batches in flight (else `concurrency` bounds this one);
    `answered` hears each call's outcome as it arrives (not for a platform's native batch call).
    """
    if not operations:
        return []
    shared = slots or CallSlots(concurrency)
    if isinstance(client, BatchPlatformClient):
        return await _judged(client, shared, await _apply_natively(client, list(operations)))

    async def bounded(index: int, operation: SegmentOperation) -> SegmentOutcome:
        async with shared.limit:
            # Once the platform refuses our credentials, the items still waiting would only repeat it.
            if shared.rejected is not None:
                return SegmentOutcome(operation, error=_not_attempted(shared.rejected))
            outcome = await apply_one(client, operation)
            if answered is not None:
                await answered(index, outcome)
            if outcome.error is not None and outcome.error.error_class is ErrorClass.AUTH:
                await shared.credentials_refused(client, outcome.error)
            return outcome

    outcomes = list(await asyncio.gather(*(bounded(index, op) for index, op in enumerate(operations))))
    if isinstance(client, BatchCompletingClient):
        outcomes = await _complete(client, outcomes)
    return await _judged(client, shared, outcomes)


async def _judged(
    client: PlatformClient, slots: CallSlots, outcomes: list[SegmentOutcome]
) -> list[SegmentOutcome]:
    """The outcomes, once an auth error among them is judged (`slots.rejected` when the probe failed too)."""
    auth = next(
        (o.error for o in outcomes if o.error is not None and o.error.error_class is ErrorClass.AUTH), None
    )
    if auth is not None:
        await slots.credentials_refused(client, auth)
    return outcomes


async def _complete(client: BatchCompletingClient, outcomes: list[SegmentOutcome]) -> list[SegmentOutcome]:
    applied = [outcome for outcome in outcomes if outcome.succeeded]
    if not applied:
        return outcomes
    refs: dict[str, str] = {}
    try:
        completion = await client.complete_batch(applied)
        errors, refs = completion.errors, completion.pending_refs
    except PlatformError as exc:
        errors = {outcome.platform_segment_id or "": exc for outcome in applied}
    except Exception as exc:  # a connector bug must cost this batch, not the worker
        log.exception("segment_batch_completion_crashed", size=len(applied))
        crash = PlatformError(ErrorClass.UNKNOWN, type(exc).__name__)
        errors = {outcome.platform_segment_id or "": crash for outcome in applied}
    completed = []
    for outcome in outcomes:
        platform_id = outcome.platform_segment_id or ""
        if not outcome.succeeded:
            completed.append(outcome)
        elif platform_id in errors:
            completed.append(SegmentOutcome(outcome.operation, error=errors[platform_id]))
        else:
            completed.append(replace(outcome, pending_ref=refs.get(platform_id)))
    return completed


def _not_attempted(refusal: PlatformError) -> PlatformError:
    # The refusal's words, but no call was made for this item: its record must say 0 attempts.
    return PlatformError(refusal.error_class, refusal.message, status_code=refusal.status_code, attempts=0)


async def apply_one(client: PlatformClient, operation: SegmentOperation) -> SegmentOutcome:
    """Run a single operation with the client's per-item API."""
    try:
        if isinstance(client, BatchCompletingClient):
            return SegmentOutcome(operation, platform_segment_id=await client.apply_item(operation))
        match operation:
            case CreateOperation(params=params):
                platform_id = await client.create_segment(params)
            case UpdateOperation(platform_segment_id=platform_id, params=update):
                await client.update_segment(platform_id, update)
            case DeactivateOperation(platform_segment_id=platform_id):
                await client.deactivate_segment(platform_id)
    except PlatformError as exc:
        return SegmentOutcome(operation, error=exc)
    except Exception as exc:  # a connector bug must cost one item, not the batch
        log.exception("segment_operation_crashed", operation=type(operation).__name__)
        return SegmentOutcome(operation, error=PlatformError(ErrorClass.UNKNOWN, type(exc).__name__))
    return SegmentOutcome(operation, platform_segment_id=platform_id)


async def _apply_natively(
    client: BatchPlatformClient, operations: list[SegmentOperation]
) -> list[SegmentOutcome]:
    try:
        platform_ids = await client.apply_operations(operations)
        return [
            SegmentOutcome(operation, platform_segment_id=platform_id)
            for operation, platform_id in zip(operations, platform_ids, strict=True)
        ]
    except PlatformError as exc:
        if exc.error_class is not ErrorClass.PERMANENT or len(operations) == 1:
            return [SegmentOutcome(operation, error=exc) for operation in operations]
        # The platform refused the whole batch for something in it: halve until the culprits stand alone.
        middle = len(operations) // 2
        return [
            *await _apply_natively(client, operations[:middle]),
            *await _apply_natively(client, operations[middle:]),
        ]
    except Exception as exc:  # a connector bug must not take the worker down
        log.exception("segment_batch_crashed", size=len(operations))
        error = PlatformError(ErrorClass.UNKNOWN, type(exc).__name__)
        return [SegmentOutcome(operation, error=error) for operation in operations]
