"""The commands that make workers move a run: built from the run alone, queued through the outbox.

Every place that starts, steps, redelivers or retries a run (the gateway's routes, the intake, the
stuck-run supervisor) builds its command here and queues it with `queue_command`, in the
transaction that wrote the run.
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol

from shared.db import outbox
from shared.db.pool import DbConnection
from shared.messages import PushCommand, RunMode, SyncCommand, SyncStep
from shared.settings import Settings

WorkerCommand = PushCommand | SyncCommand | SyncStep


class RunRef(Protocol):
    """What a command is built from: a run row (`shared.db.runs.Run` or a stalled run)."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def org_id(self) -> uuid.UUID: ...
    @property
    def connection_id(self) -> uuid.UUID: ...
    @property
    def kind(self) -> str: ...
    @property
    def mode(self) -> str: ...
    @property
    def dry_run(self) -> bool: ...
    @property
    def request(self) -> dict[str, Any]: ...


def command_for(
    run: RunRef, *, attempt: int = 1, batch_index: int | None = None
) -> PushCommand | SyncCommand:
    """The command of a run as it was requested; a step push names the one batch it pushes."""
    if run.kind == "sync":
        return SyncCommand(
            run_id=run.id,
            org_id=run.org_id,
            connection_id=run.connection_id,
            mode=RunMode(run.mode),
            attempt=attempt,
        )
    return PushCommand(
        run_id=run.id,
        org_id=run.org_id,
        connection_id=run.connection_id,
        topic_ids=run.request.get("topicIds"),  # stored as the request named them (None: every topic)
        dry_run=run.dry_run,
        mode=RunMode(run.mode),
        attempt=attempt,
        batch_index=batch_index,
    )


def sync_step_for(run: RunRef, *, pages_committed: int) -> SyncStep:
    """One more page of a step sync: the page after those committed (a repeat is a no-op)."""
    return SyncStep(
        run_id=run.id, org_id=run.org_id, connection_id=run.connection_id, after_page=pages_committed
    )


async def queue_command(connection: DbConnection, settings: Settings, command: WorkerCommand) -> None:
    """Queue a command in the caller's transaction; the outbox relay publishes it once committed."""
    kind = "push" if isinstance(command, PushCommand) else "sync"
    await outbox.enqueue(
        connection,
        topic=settings.topic(f"{kind}.commands"),
        key=str(command.connection_id),  # one partition per connection: its commands stay in order
        payload=command.model_dump(mode="json"),
    )
