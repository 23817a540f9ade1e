"""Server-Sent Events of one run: a `run` snapshot whenever it changes, each new `item_error`, then `end`.

The event id is `<snapshot hash>.<last error record id>`: a client that reconnects with it in
Last-Event-ID gets only what it has not seen (the current snapshot if it changed, the error records
after that one), and a 204 once the run is final and it has seen everything, which stops EventSource.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import KW_ONLY, dataclass
from typing import Any

from services.gateway.run_documents import status_document
from services.gateway.schemas import RunErrorOut
from shared.db import runs as repo
from shared.db.pool import PgPool

ERRORS_PER_POLL = 200
KEEPALIVE_S = 15.0
RECONNECT_MS = 1000


@dataclass(slots=True)
class StreamPosition:
    """What the client has seen: the hash of its last snapshot and the id of its last error record."""

    snapshot: str = ""
    error_id: int = 0

    @classmethod
    def parse(cls, last_event_id: str | None) -> StreamPosition:
        """The position a Last-Event-ID names (the start for a missing or foreign one)."""
        snapshot, _, error_id = (last_event_id or "").partition(".")
        if not error_id.isdigit():
            return cls()
        return cls(snapshot=snapshot, error_id=int(error_id))

    @property
    def event_id(self) -> str:
        """The id of the next event sent from this position."""
        return f"{self.snapshot}.{self.error_id}"


def snapshot_of(run: repo.Run) -> tuple[dict[str, Any], str]:
    """The run's status document without its error records (they stream one by one), and its hash."""
    document = status_document(run, []).model_dump(mode="json", by_alias=True, exclude={"errors"})
    digest = hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:16]
    return document, digest


def frame(event: str, data: dict[str, Any], event_id: str) -> str:
    """One SSE event."""
    return f"id: {event_id}\nevent: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


@dataclass(eq=False)
class RunEventStream:
    """Polls Postgres for one run of one org and turns its changes into SSE frames."""

    pool: PgPool
    org_id: uuid.UUID
    run_id: uuid.UUID
    _: KW_ONLY
    poll_interval_s: float
    max_stream_s: float

    async def nothing_new(self, run: repo.Run, position: StreamPosition) -> bool:
        """Whether a client at `position` has seen all of a final run (answered with 204)."""
        if not run.is_terminal or snapshot_of(run)[1] != position.snapshot:
            return False
        return not await repo.run_errors_after(self.pool, run.id, position.error_id, 1)

    async def _changes(self, run: repo.Run, position: StreamPosition) -> tuple[list[str], bool]:
        frames: list[str] = []
        errors = await repo.run_errors_after(self.pool, run.id, position.error_id, ERRORS_PER_POLL)
        for error in errors:
            position.error_id = error.id
            record = RunErrorOut.model_validate(error, from_attributes=True).model_dump(
                mode="json", by_alias=True
            )
            frames.append(frame("item_error", record, position.event_id))
        document, digest = snapshot_of(run)
        if digest != position.snapshot:
            position.snapshot = digest
            if run.kind == "push":
                document["outcomes"] = await repo.item_outcomes(self.pool, run.id)
            frames.append(frame("run", document, position.event_id))
        finished = run.is_terminal and len(errors) < ERRORS_PER_POLL
        if finished:
            frames.append(frame("end", {"status": run.status}, position.event_id))
        return frames, finished

    async def frames(
        self, position: StreamPosition, is_disconnected: Callable[[], Awaitable[bool]]
    ) -> AsyncIterator[str]:
        """Frames until the run is final (ending with `end`), the client leaves, or the stream's time is up."""
        yield f"retry: {RECONNECT_MS}\n\n"
        started = last_sent = time.monotonic()
        while True:
            run = await repo.get_run(self.pool, self.org_id, self.run_id)
            if run is None:  # deleted with its connection
                yield frame("end", {"status": "deleted"}, position.event_id)
                return
            frames, finished = await self._changes(run, position)
            if frames:
                yield "".join(frames)
                last_sent = time.monotonic()
            elif time.monotonic() - last_sent > KEEPALIVE_S:
                yield ": keepalive\n\n"  # keeps proxies from closing an idle stream
                last_sent = time.monotonic()
            if finished or time.monotonic() - started > self.max_stream_s or await is_disconnected():
                return  # past the time limit the client reconnects with Last-Event-ID
            await asyncio.sleep(self.poll_interval_s)
