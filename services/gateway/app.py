"""Composition root of the gateway: settings, pool, broker, relay, routes."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import structlog
from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

from services.gateway.body_limit import install_body_limit
from services.gateway.metrics import RequestMetrics
from services.gateway.openapi_security import install_security_documentation
from services.gateway.outbox_relay import declare_publications
from services.gateway.problems import install_problem_handlers
from services.gateway.routes import (
    api_keys,
    connection_test,
    connections,
    console_schemas,
    console_session,
    console_template_preview,
    dead_letters,
    health,
    output_templates,
    push_runs,
    run_history,
    run_views,
    runs,
    schedules,
    sync_runs,
    topics,
)
from services.gateway.routes.ui import install_ui
from services.gateway.run_progress import RunProgress
from services.gateway.startup import GatewayStartup
from shared.db.pool import create_pool
from shared.messaging.kafka import build_broker
from shared.settings import Settings
from shared.tracing import configure_tracing

log = structlog.get_logger(__name__)

# Probes, and the live status routes: a stream's span would last minutes, and their URLs carry view tokens.
_UNTRACED = "healthz,readyz,metrics,api/runs/[^/?]+/events,ui/"


def _stop_server(app: FastAPI) -> None:
    # The CLI sets `stop_server` (uvicorn's should_exit); a SIGTERM would be re-raised by uvicorn after
    # its graceful stop and end the process with -15 instead of the CLI's one line and status 2.
    stop = getattr(app.state, "stop_server", None)
    if stop is not None:
        stop()
    else:
        log.error("gateway_cannot_start_and_cannot_stop_itself")


def build_app(settings: Settings) -> FastAPI:
    """The gateway application; connections open in its lifespan, not at import."""
    settings.require_encryption_key()
    tracer_provider = configure_tracing("gateway", settings.otel_traces_exporter)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # min_size=0: no connection is opened here, so the gateway serves (503 on /readyz) while Postgres
        # is down; what needs Postgres or Kafka starts in `startup` as they answer (start in any order).
        pool = await create_pool(settings.database_url, max_size=settings.db_pool_max, min_size=0)
        broker = build_broker(settings, client_id="activator-gateway", tracer_provider=tracer_provider)
        declare_publications(broker, settings)
        startup = GatewayStartup(pool, broker, settings, stop_server=lambda: _stop_server(app))
        app.state.settings = settings
        app.state.pool = pool
        app.state.broker = broker
        app.state.startup = startup
        # One LISTEN for the whole process: the step loop's requests wait on it, not on polls.
        app.state.run_progress = RunProgress(pool, retry_max_s=settings.dependency_retry_max_s)
        startup.start()
        app.state.run_progress.start()
        log.info("gateway_started", port=settings.activator_gateway_port)
        try:
            yield
        finally:
            await app.state.run_progress.stop()
            await startup.stop()
            await broker.stop()
            await pool.close()

    # servers: the document's own origin (relative), so generated clients call the gateway that served it.
    app = FastAPI(
        title="Activator",
        version="0.1.0",
        lifespan=lifespan,
        docs_url="/docs",
        servers=[{"url": "/", "description": "The gateway serving this document"}],
    )
    if tracer_provider is not None:
        FastAPIInstrumentor.instrument_app(app, tracer_provider=tracer_provider, excluded_urls=_UNTRACED)
    install_problem_handlers(app)
    install_security_documentation(app)
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
        console_template_preview.router,
        schedules.router,
        api_keys.router,
        dead_letters.router,
    ):
        app.include_router(router)
    install_ui(app)
    return app
