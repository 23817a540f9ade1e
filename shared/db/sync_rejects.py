"""Records a sync could not turn into topics: kept with their payload, page and reason, listed by the API."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from shared.db.pool import Db, DbConnection
from shared.inbound.mapping import InvalidRecord

REJECT_ERROR_CODE = "invalid_record"


@dataclass(frozen=True, slots=True)
class SyncReject:
    id: int
    page: int
    position: int
    source_id: str | None
    reason: str
    payload: str
    at: datetime


def _payload_text(payload: object, limit: int) -> str:
    text = json.dumps(payload, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit]


async def store_rejects(
    connection: DbConnection,
    run_id: uuid.UUID,
    *,
    page: int,
    rejects: Sequence[InvalidRecord],
    payload_limit: int,
    error_room: int,
) -> int:
    """Keep the page's invalid records, the first `error_room` also as run errors; returns errors stored."""
    if not rejects:
        return 0
    await connection.executemany(
        """INSERT INTO sync_rejects (run_id, page, position, source_id, reason, payload)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (run_id, page, position) DO NOTHING""",
        [
            (
                run_id,
                page,
                reject.position,
                reject.source_id,
                reject.reason,
                _payload_text(reject.payload, payload_limit),
            )
            for reject in rejects
        ],
    )
    kept = list(rejects)[: max(0, error_room)]
    await connection.executemany(
        "INSERT INTO run_errors (run_id, item_id, code, message, attempt, at) VALUES ($1, $2, $3, $4, 1, now())",
        [
            (
                run_id,
                reject.source_id or f"page {page} record {reject.position}",
                REJECT_ERROR_CODE,
                f"page {page}: {reject.reason}",
            )
            for reject in kept
        ],
    )
    return len(kept)


async def list_rejects(db: Db, run_id: uuid.UUID, *, limit: int, after: int | None) -> list[SyncReject]:
    """A page of the run's rejected records in the order they were met, after the cursor id."""
    rows = await db.fetch(
        """SELECT id, page, position, source_id, reason, payload, at FROM sync_rejects
           WHERE run_id = $1 AND ($2::bigint IS NULL OR id > $2) ORDER BY id LIMIT $3""",
        run_id,
        after,
        limit,
    )
    return [SyncReject(**dict(row)) for row in rows]
