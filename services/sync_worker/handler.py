"""Handles one sync command or step: loads the run and its connection, then lets the driver page."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import structlog
from pydantic import ValidationError

from services.sync_worker.pages import SyncRunDriver, SyncRunRef, close_run
from shared.connectors.errors import ConnectorConfigError
from shared.db import sync_runs
from shared.db.connections import Connection, decrypt_credentials, get_connection
from shared.inbound.config import InboundConfig
from shared.inbound.source import InboundSource
from shared.messages import SyncCommand, SyncStep
from shared.settings import Settings
from shared.status_publisher import StatusPublisher

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


async def handle_sync(work: SyncCommand | SyncStep, deps: SyncDependencies) -> None:
    """Start a run and page it to the end (auto), or advance a step run by one page; safe to repeat."""
    run = SyncRunRef(run_id=work.run_id, org_id=work.org_id, connection_id=work.connection_id)
    bound = log.bind(run_id=str(run.run_id), connection_id=str(run.connection_id), org_id=str(run.org_id))
    state = await sync_runs.sync_run_state(deps.pool, run.run_id)
    if state is None or state.is_terminal:
        bound.info("sync_work_ignored", reason="run finished or gone", work=work.type)
        return
    pages_done = state.checkpoint.page if state.checkpoint is not None else None
    if isinstance(work, SyncStep) and not state.cancel_requested and pages_done != work.after_page:
        bound.info("sync_step_ignored", after_page=work.after_page, reason="not the run's next page")
        return
    try:
        config, source = await _open_source(deps, run)
    except SyncSetupError as exc:
        await close_run(deps.pool, deps.publisher, run, status="failed", reason=str(exc))
        return
    try:
        driver = SyncRunDriver(
            run=run,
            config=config,
            source=source,
            pool=deps.pool,
            settings=deps.settings,
            publisher=deps.publisher,
            stopping=deps.stopping,
        )
        checkpoint = state.checkpoint or await driver.start()
        # A step run's own command only starts it; each step (or a cancel) then moves one page.
        if checkpoint is None or (
            state.mode == "step" and isinstance(work, SyncCommand) and not state.cancel_requested
        ):
            return
        current = await sync_runs.sync_run_state(deps.pool, run.run_id)
        if current is None or current.is_terminal:
            return
        await driver.pages(checkpoint, total=current.total, limit=1 if state.mode == "step" else None)
    finally:
        await source.aclose()
