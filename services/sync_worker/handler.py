"""Handles one sync command or step: loads the run and its connection, then lets the driver page."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import structlog
from pydantic import ValidationError

from services.sync_worker.closing import SyncRunRef, close_run
from services.sync_worker.pages import GoOn, SyncRunDriver
from services.sync_worker.store import PostgresSyncRuns
from shared.connectors.errors import ConnectorConfigError
from shared.db import sync_runs
from shared.db.connections import Connection, decrypt_credentials, get_connection
from shared.inbound.config import InboundConfig
from shared.inbound.source import InboundSource
from shared.messages import RunMode, SyncCommand, SyncStep
from shared.messaging.consumer_guard import ShutdownInterrupted
from shared.messaging.status_publisher import StatusPublisher
from shared.messaging.worker_app import step_lease
from shared.runs import leases
from shared.runs.executor import LeaseKeeper
from shared.settings import Settings
from shared.tracing import current_trace_headers

log = structlog.get_logger(__name__)

SourceFactory = Callable[[Connection, InboundConfig, dict[str, str]], InboundSource]


@dataclass(frozen=True, slots=True)
class SyncDependencies:
    pool: asyncpg.Pool[Any]
    settings: Settings
    publisher: StatusPublisher
    source_factory: SourceFactory
    # Set when the worker shuts down: runs leave at their next page boundary, uncommitted.
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def runs(self) -> PostgresSyncRuns:
        """The sync runs' store over the pool."""
        return PostgresSyncRuns(self.pool)


class SyncSetupError(Exception):
    """The run cannot start: its connection is gone, or its config or credentials do not fit."""


def _config_problem(error: ValidationError) -> str:
    fields = "; ".join(
        f"{'.'.join(str(part) for part in item['loc']) or 'config'}: {item['msg']}"
        for item in error.errors(include_input=False)[:5]
    )
    return f"the connection's inbound config is not valid ({fields})"


async def _open_source(deps: SyncDependencies, run: SyncRunRef) -> tuple[InboundConfig, InboundSource]:
    connection = await get_connection(deps.pool, run.org_id, run.connection_id)
    if connection is None:
        raise SyncSetupError("the connection no longer exists")
    try:
        config = InboundConfig.model_validate(connection.config)
    except ValidationError as exc:
        raise SyncSetupError(_config_problem(exc)) from None
    key = deps.settings.require_encryption_key()
    credentials = await decrypt_credentials(
        deps.pool, run.org_id, run.connection_id, key, fallback_keys=deps.settings.previous_encryption_keys()
    )
    try:
        return config, deps.source_factory(connection, config, credentials)
    except ConnectorConfigError as exc:
        raise SyncSetupError(str(exc)) from None


async def work_sync_slice(
    keeper: LeaseKeeper, deps: SyncDependencies, *, pages: int | None, go_on: GoOn | None = None
) -> None:
    """Page the leased run on from its checkpoint, `pages` pages (0: count and start only) and then as
    long as `go_on()` allows another `pages`."""
    lease = keeper.lease
    run = SyncRunRef(run_id=lease.run_id, org_id=lease.org_id, connection_id=lease.connection_id)
    bound = log.bind(run_id=str(run.run_id), connection_id=str(run.connection_id), org_id=str(run.org_id))
    state = await sync_runs.sync_run_state(deps.pool, run.run_id)
    if state is None or state.is_terminal:
        bound.info("sync_work_ignored", reason="run finished or gone")
        await keeper.finish()
        return
    try:
        config, source = await _open_source(deps, run)
    except SyncSetupError as exc:
        await close_run(deps.runs, deps.publisher, run, status="failed", reason=str(exc))
        await keeper.finish()
        return
    try:
        driver = SyncRunDriver(
            run=run,
            config=config,
            source=source,
            store=deps.runs,
            settings=deps.settings,
            publisher=deps.publisher,
            stopping=deps.stopping,
        )
        checkpoint = state.checkpoint or await driver.start()
        if checkpoint is not None and pages != 0 and not keeper.lost:
            current = await sync_runs.sync_run_state(deps.pool, run.run_id)
            if current is not None and not current.is_terminal:
                await driver.pages(checkpoint, total=current.total, limit=pages, go_on=go_on)
    finally:
        await source.aclose()
    after = await sync_runs.sync_run_state(deps.pool, run.run_id)
    if after is None or after.is_terminal:
        await keeper.finish()  # the driver closed the run in its last page's transaction


async def work_sync_auto_slice(keeper: LeaseKeeper, deps: SyncDependencies) -> None:
    """An auto run's slice: RUN_SLICE_PAGES pages, then the run goes back in line (a stop hands it over)."""

    async def nobody_waits() -> bool:
        return not keeper.released and not keeper.lost and not await keeper.contended()

    try:
        # Nobody waits behind it: the run goes on without giving its lease back (nor the pages
        # fetched ahead); the loop starts over only when a slice ended for another reason.
        await work_sync_slice(keeper, deps, pages=deps.settings.run_slice_pages, go_on=nobody_waits)
        while await nobody_waits():
            await work_sync_slice(keeper, deps, pages=deps.settings.run_slice_pages, go_on=nobody_waits)
    except ShutdownInterrupted:
        return  # the checkpoint is where the next holder resumes; the executor gives the run back


async def give_up_sync(keeper: LeaseKeeper, deps: SyncDependencies, reason: str) -> None:
    """Fail a run whose slices kept raising, with the reason."""
    lease = keeper.lease
    run = SyncRunRef(run_id=lease.run_id, org_id=lease.org_id, connection_id=lease.connection_id)
    await close_run(deps.runs, deps.publisher, run, status="failed", reason=reason)
    await keeper.finish()


async def handle_sync(work: SyncCommand | SyncStep, deps: SyncDependencies) -> bool:
    """Take a sync command: open an auto run for every replica's slices (True: look for work now); start
    a step run, or sync its one next page, under the run's lease. Safe to repeat (redelivery)."""
    state = await sync_runs.sync_run_state(deps.pool, work.run_id)
    if state is None or state.is_terminal:
        log.info("sync_work_ignored", run_id=str(work.run_id), reason="run finished or gone", work=work.type)
        return False
    if isinstance(work, SyncCommand) and state.mode != RunMode.STEP:
        return await leases.accept(deps.pool, work.run_id, current_trace_headers())
    async with step_lease(deps.pool, deps.settings, work.run_id, "sync") as keeper:
        if keeper is None:
            return False  # finished or gone meanwhile
        state = await sync_runs.sync_run_state(deps.pool, work.run_id)
        pages_done = state.checkpoint.page if state is not None and state.checkpoint is not None else None
        if (
            isinstance(work, SyncStep)
            and not (state and state.cancel_requested)
            and pages_done != work.after_page
        ):
            log.info("sync_step_ignored", run_id=str(work.run_id), after_page=work.after_page)
        else:
            # A step run's own command only starts it (counts); each step (or a cancel) moves one page.
            await work_sync_slice(keeper, deps, pages=0 if isinstance(work, SyncCommand) else 1)
    return False
