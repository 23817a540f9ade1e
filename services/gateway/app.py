"""Composition root of the gateway: settings, pool, broker, relay, routes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import structlog
from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

from services.gateway.body_limit import install_body_limit
from services.gateway.consumer_lag import export_lag_forever
from services.gateway.metrics import RequestMetrics
from services.gateway.outbox_relay import OutboxRelay, declare_publications
from services.gateway.problems import install_problem_handlers
from services.gateway.retention import RetentionPruner
from services.gateway.routes import (
    connection_test,
    connections,
    console_schemas,
    console_session,
    health,
    output_templates,
    push_runs,
    run_history,
    run_views,
    runs,
    sync_runs,
    topics,
)
from services.gateway.routes.ui import install_ui
from services.gateway.run_supervisor import RunSupervisor
from shared.db.orgs import ensure_dev_org
from shared.db.pool import create_pool
from shared.messaging.kafka import build_broker, ensure_topics
from shared.settings import Settings
from shared.tracing import configure_tracing

log = structlog.get_logger(__name__)

# Probes, and the live status routes: a stream's span would last minutes, and their URLs carry view tokens.
_UNTRACED = "healthz,readyz,metrics,api/runs/[^/?]+/events,ui/"


def build_app(settings: Settings) -> FastAPI:
    """The gateway application; connections open in its lifespan, not at import."""
    settings.require_encryption_key()
    tracer_provider = configure_tracing("gateway", settings.otel_traces_exporter)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await create_pool(settings.database_url, max_size=settings.db_pool_max)
        broker = build_broker(settings, client_id="activator-gateway", tracer_provider=tracer_provider)
        declare_publications(broker, settings)
        await ensure_topics(settings)
        await broker.connect()
        if settings.activator_dev_api_key is not None:
            await ensure_dev_org(pool, settings.activator_dev_api_key.get_secret_value())
        app.state.settings = settings
        app.state.pool = pool
        app.state.broker = broker
        background = [
            asyncio.create_task(
                OutboxRelay(pool, broker, poll_interval_s=settings.outbox_poll_interval_s).run(),
                name="outbox-relay",
            ),
            asyncio.create_task(RunSupervisor(pool, settings).run(), name="run-supervisor"),
            asyncio.create_task(RetentionPruner(pool, settings).run(), name="retention"),
            asyncio.create_task(export_lag_forever(settings), name="consumer-lag"),
        ]
        log.info("gateway_started", port=settings.activator_gateway_port)
        try:
            yield
        finally:
            for task in background:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await broker.stop()
            await pool.close()

    app = FastAPI(title="Activator", version="0.1.0", lifespan=lifespan, docs_url="/docs")
    if tracer_provider is not None:
        FastAPIInstrumentor.instrument_app(app, tracer_provider=tracer_provider, excluded_urls=_UNTRACED)
    install_problem_handlers(app)
    # Added last is outermost: metrics also see the 413s of the body limit.
    install_body_limit(app, settings.max_request_body_bytes)
    app.add_middleware(RequestMetrics)
    for router in (
        health.router,
        connections.router,
        connection_test.router,
        runs.router,
        push_runs.router,
        sync_runs.router,
        topics.router,
        output_templates.router,
        run_views.router,
        run_history.router,
        console_session.router,
        console_schemas.router,
    ):
        app.include_router(router)
    install_ui(app)
    return app
