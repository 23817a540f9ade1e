"""Starting push and sync runs: the one path the HTTP API and the Kafka intake both take.

The run and its command are written in one transaction (the outbox relay publishes the command once
it is committed), after the same checks whichever way the request came; a repeated idempotency key of
an org names the run of its first request instead of starting another.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from shared.db import runs as repo
from shared.db.pool import DbConnection, PgPool
from shared.db.topics import count_topics_for_push
from shared.messages import RejectionCode, RunMode
from shared.runs.commands import command_for, queue_command
from shared.settings import Settings

_DIRECTIONS = {"push": ("outbound", "bidirectional"), "sync": ("inbound", "bidirectional")}


class RunRefused(Exception):
    """A request that starts no run; the HTTP API answers it with a problem, the intake with a rejection."""

    def __init__(self, code: RejectionCode, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True, slots=True)
class PushSpec:
    """What a push run covers: the given topics (all active ones when None), dry or not, auto or step."""

    topic_ids: list[uuid.UUID] | None = None
    dry_run: bool = False
    mode: RunMode = RunMode.AUTO
    # Plan against what the platform has (each live segment read back) instead of the ledger alone:
    # drift found is reported per item and, unless a dry run, repaired (POST .../reconcile).
    reconcile: bool = False


@dataclass(frozen=True, slots=True)
class SyncSpec:
    """How a sync run is driven."""

    mode: RunMode = RunMode.AUTO


@dataclass(frozen=True, slots=True)
class StartedRun:
    """The run a request named; `created` is False when an earlier request with its idempotency key made it."""

    run: repo.Run
    created: bool


OnCreated = Callable[[DbConnection, repo.Run], Awaitable[None]]
"""Called inside the run's transaction, e.g. to queue an announcement through the outbox as well."""


def _request_document(spec: PushSpec | SyncSpec) -> dict[str, Any]:
    # Stored on the run (the supervisor and step mode read it back) and compared for idempotency.
    if isinstance(spec, SyncSpec):
        return {"mode": spec.mode.value}
    topic_ids = None if spec.topic_ids is None else [str(topic_id) for topic_id in spec.topic_ids]
    document: dict[str, Any] = {"topicIds": topic_ids, "dryRun": spec.dry_run, "mode": spec.mode.value}
    return {**document, "reconcile": True} if spec.reconcile else document


async def lock_connection(
    connection: DbConnection, org_id: uuid.UUID, connection_id: uuid.UUID, kind: Literal["push", "sync"]
) -> None:
    """Hold the connection (it is not deleted meanwhile); RunRefused when it may not start a run of `kind`."""
    row = await connection.fetchrow(
        "SELECT direction, enabled FROM platform_connections WHERE org_id = $1 AND id = $2 FOR SHARE",
        org_id,
        connection_id,
    )
    if row is None:
        raise RunRefused(RejectionCode.NOT_FOUND, "connection not found")
    if row["direction"] not in _DIRECTIONS[kind]:
        raise RunRefused(
            RejectionCode.WRONG_DIRECTION, f"A {row['direction']} connection cannot run a {kind}"
        )
    if not row["enabled"]:
        raise RunRefused(RejectionCode.CONNECTION_DISABLED, "Enable the connection before starting a run")


async def _enqueue_command(connection: DbConnection, settings: Settings, run: repo.Run) -> None:
    if run.kind == "push" and run.mode == RunMode.STEP:
        return  # step runs get one command per /push call instead
    await queue_command(connection, settings, command_for(run))


async def start_run(
    pool: PgPool,
    settings: Settings,
    *,
    org_id: uuid.UUID,
    connection_id: uuid.UUID,
    spec: PushSpec | SyncSpec,
    idempotency_key: str | None = None,
    on_created: OnCreated | None = None,
) -> StartedRun:
    """Create a queued run and its command in one transaction, or name the run of an earlier request.

    Raises RunRefused for an unknown connection, the wrong direction, a disabled connection, or an
    idempotency key already used for a different request.
    """
    kind: Literal["push", "sync"] = "push" if isinstance(spec, PushSpec) else "sync"
    request = _request_document(spec)
    async with pool.acquire() as connection, connection.transaction():
        if idempotency_key is not None:
            earlier = await repo.run_for_idempotency_key(connection, org_id, idempotency_key)
            if earlier is not None:
                if (earlier.kind, earlier.connection_id, earlier.request) != (kind, connection_id, request):
                    raise RunRefused(
                        RejectionCode.IDEMPOTENCY_CONFLICT,
                        f"The idempotency key was used for another request (run {earlier.id})",
                    )
                return StartedRun(earlier, created=False)
        await lock_connection(connection, org_id, connection_id, kind)
        total = 0
        if isinstance(spec, PushSpec):
            total = await count_topics_for_push(connection, org_id, spec.topic_ids)
        run = await repo.insert_run(
            connection,
            org_id=org_id,
            connection_id=connection_id,
            kind=kind,
            mode=spec.mode.value,
            dry_run=isinstance(spec, PushSpec) and spec.dry_run,
            total=total,
            request=request,
            idempotency_key=idempotency_key,
        )
        await _enqueue_command(connection, settings, run)
        if on_created is not None:
            await on_created(connection, run)
    return StartedRun(run, created=True)
