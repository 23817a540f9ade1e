"""The activation ledger: topic x connection -> platform segment, content hash, state."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from pydantic import BaseModel, ConfigDict, Field

from shared.connectors.deps import SegmentLookup
from shared.connectors.protocol import PendingWrite, PlatformSegment
from shared.db.pool import Db


@dataclass(frozen=True, slots=True)
class Activation:
    topic_id: uuid.UUID
    platform_segment_id: str | None
    content_hash: str | None
    state: str
    last_run_id: uuid.UUID | None
    last_outcome: str | None
    # The ancestors' names the segment was made under (None: not known); the segments it replaced.
    platform_path: tuple[str, ...] | None = None
    replaced_segment_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ActivationWrite:
    """What a confirmed platform call (or a failure) leaves in the ledger."""

    topic_id: uuid.UUID
    platform_segment_id: str | None
    content_hash: str | None
    state: str
    outcome: str
    # Where a created (or moved) segment was made; None keeps what the ledger knows.
    platform_path: tuple[str, ...] | None = None
    # A move: the segment this one replaces (deactivated), appended to the lineage.
    replaces: str | None = None
    # The platform's reference of a write it finishes later (TTD's data-rate BatchId); None clears it.
    pending_ref: str | None = None


def _activation(row: asyncpg.Record) -> Activation:
    fields = dict(row)
    path = fields.pop("platform_path")
    replaced = tuple(fields.pop("replaced_segment_ids"))
    return Activation(
        **fields,
        platform_path=None if path is None else tuple(json.loads(path)),
        replaced_segment_ids=replaced,
    )


async def activations_for(
    db: Db, connection_id: uuid.UUID, topic_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Activation]:
    """The ledger entries of a connection for the given topics (one batch's worth)."""
    rows = await db.fetch(
        """SELECT topic_id, platform_segment_id, content_hash, state, last_run_id, last_outcome,
                  platform_path::text AS platform_path, replaced_segment_ids
           FROM activations WHERE connection_id = $1 AND topic_id = ANY($2::uuid[])""",
        connection_id,
        list(topic_ids),
    )
    return {row["topic_id"]: _activation(row) for row in rows}


_TO_DEACTIVATE = """FROM activations a JOIN topics t ON t.id = a.topic_id
           WHERE a.connection_id = $1 AND t.status = 'deleted'
             AND (a.state IN ('active', 'pending') OR (a.last_run_id = $2 AND a.last_outcome = 'deactivated'))"""


async def topics_to_deactivate_after(
    db: Db,
    connection_id: uuid.UUID,
    run_id: uuid.UUID,
    *,
    after: uuid.UUID | None,
    limit: int,
    upto: uuid.UUID | None = None,
) -> list[uuid.UUID]:
    """The next deleted topics whose segment is still live (or was deactivated by this run), in id order;
    none past `upto` (the end of a run lane's id range)."""
    rows = await db.fetch(
        f"""SELECT a.topic_id {_TO_DEACTIVATE} AND ($3::uuid IS NULL OR a.topic_id > $3)
              AND ($5::uuid IS NULL OR a.topic_id <= $5)
            ORDER BY a.topic_id LIMIT $4""",
        connection_id,
        run_id,
        after,
        limit,
        upto,
    )
    return [row["topic_id"] for row in rows]


async def count_to_deactivate(db: Db, connection_id: uuid.UUID, run_id: uuid.UUID) -> int:
    """How many segments a full push run of the connection deactivates."""
    count: int = await db.fetchval(f"SELECT count(*) {_TO_DEACTIVATE}", connection_id, run_id)
    return count


async def record_activations(
    db: asyncpg.Pool[Any],
    *,
    org_id: uuid.UUID,
    connection_id: uuid.UUID,
    run_id: uuid.UUID,
    writes: Sequence[ActivationWrite],
) -> None:
    """Upsert ledger entries right after the platform confirmed; a failure keeps the known segment id (and
    the state and pending reference of the write before it), any other write sets its own reference or none."""
    if not writes:
        return
    await db.execute(
        """INSERT INTO activations (connection_id, topic_id, org_id, platform_segment_id, content_hash, state,
                                    last_run_id, last_outcome, last_pushed_at, platform_path, replaced_segment_ids,
                                    pending_ref)
           SELECT $1, w.topic_id, $2, w.platform_segment_id, w.content_hash, w.state, $3, w.outcome, now(),
                  w.platform_path::jsonb, CASE WHEN w.replaces IS NULL THEN '{}'::text[] ELSE ARRAY[w.replaces] END,
                  w.pending_ref
           FROM unnest($4::uuid[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
                       $11::text[])
                AS w(topic_id, platform_segment_id, content_hash, state, outcome, platform_path, replaces,
                     pending_ref)
           ON CONFLICT (connection_id, topic_id) DO UPDATE SET
               platform_segment_id = COALESCE(EXCLUDED.platform_segment_id, activations.platform_segment_id),
               content_hash = CASE WHEN EXCLUDED.last_outcome = 'failed' THEN activations.content_hash
                                   ELSE EXCLUDED.content_hash END,
               state = CASE WHEN EXCLUDED.last_outcome = 'failed' THEN activations.state ELSE EXCLUDED.state END,
               platform_path = CASE WHEN EXCLUDED.last_outcome = 'failed' THEN activations.platform_path
                                    ELSE COALESCE(EXCLUDED.platform_path, activations.platform_path) END,
               pending_ref = CASE WHEN EXCLUDED.last_outcome = 'failed' THEN activations.pending_ref
                                  ELSE EXCLUDED.pending_ref END,
               -- A redelivered move appends its replaced segment once.
               replaced_segment_ids = CASE
                   WHEN EXCLUDED.last_outcome = 'failed'
                        OR EXCLUDED.replaced_segment_ids <@ activations.replaced_segment_ids
                   THEN activations.replaced_segment_ids
                   ELSE activations.replaced_segment_ids || EXCLUDED.replaced_segment_ids END,
               last_run_id = EXCLUDED.last_run_id, last_outcome = EXCLUDED.last_outcome,
               last_pushed_at = EXCLUDED.last_pushed_at""",
        connection_id,
        org_id,
        run_id,
        [write.topic_id for write in writes],
        [write.platform_segment_id for write in writes],
        [write.content_hash for write in writes],
        [write.state for write in writes],
        [write.outcome for write in writes],
        [None if write.platform_path is None else json.dumps(list(write.platform_path)) for write in writes],
        [write.replaces for write in writes],
        [write.pending_ref for write in writes],
    )


class ActivationView(BaseModel):
    """A topic's activation on a connection, as the ledger lists it (the API's ActivationOut adds only its
    wire casing)."""

    model_config = ConfigDict(frozen=True)

    topic_id: uuid.UUID
    topic_name: str
    platform_segment_id: str | None
    state: str
    state_message: str | None
    last_outcome: str | None
    last_run_id: uuid.UUID | None
    last_pushed_at: datetime
    platform_path: list[str] | None = Field(
        description="The topic's ancestors, root first, when its current segment was made (a Trade Desk "
        "element hangs under containers of these names); null when not recorded (made before the ledger kept "
        "paths, or never made)",
    )
    replaced_segment_ids: list[str] = Field(
        description="Segments this topic's current one replaced, oldest first: a topic moved on a platform "
        "whose segments cannot change parent (The Trade Desk) gets a new segment, the old one deactivated",
    )


def _view(row: asyncpg.Record) -> ActivationView:
    fields = dict(row)
    path = fields.pop("platform_path")
    return ActivationView(**fields, platform_path=None if path is None else json.loads(path))


async def list_activations(
    db: asyncpg.Pool[Any],
    org_id: uuid.UUID,
    connection_id: uuid.UUID,
    *,
    limit: int,
    after: uuid.UUID | None,
    states: Sequence[str] | None = None,
) -> list[ActivationView]:
    """A page of a connection's ledger, by topic id (only activations in `states` when given)."""
    rows = await db.fetch(
        """SELECT a.topic_id, t.name AS topic_name, a.platform_segment_id, a.state, a.state_message, a.last_outcome,
                  a.last_run_id, a.last_pushed_at, a.platform_path::text AS platform_path, a.replaced_segment_ids
           FROM activations a JOIN topics t ON t.id = a.topic_id
           WHERE a.org_id = $1 AND a.connection_id = $2 AND ($3::uuid IS NULL OR a.topic_id > $3)
             AND ($5::text[] IS NULL OR a.state = ANY($5::text[]))
           ORDER BY a.topic_id LIMIT $4""",
        org_id,
        connection_id,
        after,
        limit,
        None if states is None else list(states),
    )
    return [_view(row) for row in rows]


def segment_lookup(db: asyncpg.Pool[Any], connection_id: uuid.UUID) -> SegmentLookup:
    """Answers get_segment from Activator's own records (for file-based platforms without a read API)."""

    async def lookup(platform_segment_id: str) -> PlatformSegment | None:
        row = await db.fetchrow(
            """SELECT a.platform_segment_id, t.name, a.state FROM activations a JOIN topics t ON t.id = a.topic_id
               WHERE a.connection_id = $1 AND a.platform_segment_id = $2""",
            connection_id,
            platform_segment_id,
        )
        if row is None:
            return None
        return PlatformSegment(id=row["platform_segment_id"], name=row["name"], status=row["state"])

    return lookup


async def pending_from_run(
    db: asyncpg.Pool[Any], connection_id: uuid.UUID, run_id: uuid.UUID
) -> dict[uuid.UUID, PendingWrite]:
    """Topic -> its write, for the writes of this run (whichever worker made them) the platform has not
    confirmed yet, oldest first."""
    rows = await db.fetch(
        """SELECT topic_id, platform_segment_id, pending_ref FROM activations
           WHERE connection_id = $1 AND last_run_id = $2 AND state = 'pending' AND platform_segment_id IS NOT NULL
           ORDER BY last_pushed_at, topic_id""",
        connection_id,
        run_id,
    )
    return {
        row["topic_id"]: PendingWrite(
            platform_segment_id=row["platform_segment_id"], pending_ref=row["pending_ref"]
        )
        for row in rows
    }


async def record_confirmations(
    db: asyncpg.Pool[Any], connection_id: uuid.UUID, outcomes: dict[uuid.UUID, tuple[str, str | None]]
) -> None:
    """Move pending activations to what the platform reported (active, failed, or still pending)."""
    if not outcomes:
        return
    await db.execute(
        """UPDATE activations a SET state = o.state, state_message = o.message
           FROM unnest($2::uuid[], $3::text[], $4::text[]) AS o(topic_id, state, message)
           WHERE a.connection_id = $1 AND a.topic_id = o.topic_id AND a.state = 'pending'""",
        connection_id,
        list(outcomes),
        [state for state, _ in outcomes.values()],
        [message for _, message in outcomes.values()],
    )
