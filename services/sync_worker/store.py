"""What a sync run reads and writes, as ports (the driver's and a page commit's), and their Postgres adapter."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

import asyncpg

from shared.db import sync_runs
from shared.db.pool import DbConnection
from shared.db.runs import is_cancel_requested
from shared.db.sync_rejects import store_rejects
from shared.db.topics import TopicFields, upsert_rendered_topics
from shared.inbound.checkpoint import SyncCheckpoint
from shared.inbound.classify import StoredTopic
from shared.inbound.mapping import InvalidRecord

Rejects = Sequence[InvalidRecord]  # a page's invalid records


class SyncPageWriter(Protocol):
    """One transaction of a sync run: a page commit, or a close outside a page."""

    async def run_state(self, run_id: uuid.UUID, *, lock: bool = False) -> sync_runs.SyncRunState | None: ...

    async def claim_source_ids(
        self, run_id: uuid.UUID, org_id: uuid.UUID, source_ids: list[str]
    ) -> tuple[set[str], dict[str, StoredTopic]]: ...

    async def upsert_topics(
        self, org_id: uuid.UUID, topics: Sequence[TopicFields], *, render_batch: int
    ) -> list[tuple[uuid.UUID, bool]]: ...

    async def external_ids_of(self, topic_ids: list[uuid.UUID]) -> set[str]: ...

    async def store_rejects(
        self, run_id: uuid.UUID, *, page: int, rejects: Rejects, payload_limit: int, error_room: int
    ) -> int: ...

    async def record_page(
        self,
        run_id: uuid.UUID,
        counts: sync_runs.PageCounts,
        checkpoint: SyncCheckpoint,
        *,
        pages: int,
        items: sync_runs.RunItems | None = None,
    ) -> None: ...

    async def distinct_source_ids(self, run_id: uuid.UUID) -> int: ...

    async def soft_delete_unseen(
        self, *, org_id: uuid.UUID, connection_id: uuid.UUID, run_id: uuid.UUID, max_share: float
    ) -> sync_runs.SoftDeletes: ...

    async def high_water_mark(self, connection_id: uuid.UUID) -> str | None: ...

    async def advance_high_water_mark(
        self, *, org_id: uuid.UUID, connection_id: uuid.UUID, run_id: uuid.UUID, mark: str
    ) -> None: ...

    async def close_sync_run(self, run_id: uuid.UUID, *, status: str, reason: str | None) -> bool: ...


class SyncRunStore(Protocol):
    """A sync run's store outside a transaction, and the transactions it opens."""

    async def run_state(self, run_id: uuid.UUID) -> sync_runs.SyncRunState | None: ...

    async def high_water_mark(self, connection_id: uuid.UUID) -> str | None: ...

    async def start_sync_run(self, run_id: uuid.UUID, *, total: int, checkpoint: SyncCheckpoint) -> bool: ...

    async def cancel_requested(self, run_id: uuid.UUID) -> bool: ...

    def transaction(self) -> AbstractAsyncContextManager[SyncPageWriter]: ...


class PostgresSyncPageWriter:
    """SyncPageWriter over a connection inside its transaction."""

    def __init__(self, connection: DbConnection) -> None:
        self._connection = connection

    async def run_state(self, run_id: uuid.UUID, *, lock: bool = False) -> sync_runs.SyncRunState | None:
        return await sync_runs.sync_run_state(self._connection, run_id, lock=lock)

    async def claim_source_ids(
        self, run_id: uuid.UUID, org_id: uuid.UUID, source_ids: list[str]
    ) -> tuple[set[str], dict[str, StoredTopic]]:
        return await sync_runs.claim_source_ids(self._connection, run_id, org_id, source_ids)

    async def upsert_topics(
        self, org_id: uuid.UUID, topics: Sequence[TopicFields], *, render_batch: int
    ) -> list[tuple[uuid.UUID, bool]]:
        # Keeps the output templates' rendered names in step with the synced topics.
        return await upsert_rendered_topics(self._connection, org_id, topics, render_batch=render_batch)

    async def external_ids_of(self, topic_ids: list[uuid.UUID]) -> set[str]:
        return await sync_runs.external_ids_of(self._connection, topic_ids)

    async def store_rejects(
        self, run_id: uuid.UUID, *, page: int, rejects: Rejects, payload_limit: int, error_room: int
    ) -> int:
        return await store_rejects(
            self._connection,
            run_id,
            page=page,
            rejects=rejects,
            payload_limit=payload_limit,
            error_room=error_room,
        )

    async def record_page(
        self,
        run_id: uuid.UUID,
        counts: sync_runs.PageCounts,
        checkpoint: SyncCheckpoint,
        *,
        pages: int,
        items: sync_runs.RunItems | None = None,
    ) -> None:
        await sync_runs.record_page(self._connection, run_id, counts, checkpoint, pages=pages, items=items)

    async def distinct_source_ids(self, run_id: uuid.UUID) -> int:
        return await sync_runs.distinct_source_ids(self._connection, run_id)

    async def soft_delete_unseen(
        self, *, org_id: uuid.UUID, connection_id: uuid.UUID, run_id: uuid.UUID, max_share: float
    ) -> sync_runs.SoftDeletes:
        return await sync_runs.soft_delete_unseen(
            self._connection, org_id=org_id, connection_id=connection_id, run_id=run_id, max_share=max_share
        )

    async def high_water_mark(self, connection_id: uuid.UUID) -> str | None:
        return await sync_runs.high_water_mark(self._connection, connection_id)

    async def advance_high_water_mark(
        self, *, org_id: uuid.UUID, connection_id: uuid.UUID, run_id: uuid.UUID, mark: str
    ) -> None:
        await sync_runs.advance_high_water_mark(
            self._connection, org_id=org_id, connection_id=connection_id, run_id=run_id, mark=mark
        )

    async def close_sync_run(self, run_id: uuid.UUID, *, status: str, reason: str | None) -> bool:
        return await sync_runs.close_sync_run(self._connection, run_id, status=status, reason=reason)


class PostgresSyncRuns:
    """SyncRunStore over the worker's pool."""

    def __init__(self, pool: asyncpg.Pool[Any]) -> None:
        self._pool = pool

    async def run_state(self, run_id: uuid.UUID) -> sync_runs.SyncRunState | None:
        return await sync_runs.sync_run_state(self._pool, run_id)

    async def high_water_mark(self, connection_id: uuid.UUID) -> str | None:
        return await sync_runs.high_water_mark(self._pool, connection_id)

    async def start_sync_run(self, run_id: uuid.UUID, *, total: int, checkpoint: SyncCheckpoint) -> bool:
        return await sync_runs.start_sync_run(self._pool, run_id, total=total, checkpoint=checkpoint)

    async def cancel_requested(self, run_id: uuid.UUID) -> bool:
        return await is_cancel_requested(self._pool, run_id)

    def transaction(self) -> AbstractAsyncContextManager[SyncPageWriter]:
        return self._transaction()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[SyncPageWriter]:
        async with self._pool.acquire() as connection, connection.transaction():
            yield PostgresSyncPageWriter(connection)
