"""Composition root: one FastAPI app for the HTTP fakes plus the Index Exchange SFTP server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
import uvicorn
from fastapi import FastAPI

from services.mock_platforms.admin import build_admin_router
from services.mock_platforms.custom_api import build_custom_api_router
from services.mock_platforms.dmp import build_dmp_router
from services.mock_platforms.fault_middleware import FaultInjectionMiddleware
from services.mock_platforms.indexexchange_ssh import start_sftp_server
from services.mock_platforms.liveramp import build_liveramp_router
from services.mock_platforms.liveramp_oauth import build_liveramp_oauth_router
from services.mock_platforms.platform_errors import PlatformHTTPError, render_platform_error
from services.mock_platforms.state import MockState
from services.mock_platforms.tradedesk import build_tradedesk_router
from services.mock_platforms.tradedesk_datarates import build_tradedesk_datarate_router

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8090
DEFAULT_SFTP_PORT = 8022

log = structlog.get_logger("mock_platforms")


def build_app(
    state: MockState | None = None, *, sftp_host: str = DEFAULT_HOST, sftp_port: int | None = None
) -> FastAPI:
    """The mock platforms' app; with `sftp_port` (0 picks one) its lifespan also runs the SFTP server."""
    mock_state = state if state is not None else MockState()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if sftp_port is None:
            yield
            return
        acceptor = await start_sftp_server(mock_state, sftp_host, sftp_port)
        app.state.sftp_port = acceptor.get_port()
        log.info("mock_platforms.sftp_listening", host=sftp_host, port=app.state.sftp_port)
        try:
            yield
        finally:
            acceptor.close()
            await acceptor.wait_closed()

    app = FastAPI(title="Activator mock platforms", lifespan=lifespan)
    app.state.mock = mock_state
    app.add_middleware(FaultInjectionMiddleware, state=mock_state)
    app.add_exception_handler(PlatformHTTPError, render_platform_error)
    app.include_router(build_custom_api_router(mock_state))
    app.include_router(build_tradedesk_router(mock_state))
    app.include_router(build_tradedesk_datarate_router(mock_state))
    app.include_router(build_liveramp_oauth_router(mock_state))
    app.include_router(build_liveramp_router(mock_state))
    app.include_router(build_dmp_router(mock_state))
    app.include_router(build_admin_router(mock_state))
    return app


async def serve(
    host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, sftp_port: int = DEFAULT_SFTP_PORT
) -> None:
    """Run the HTTP fakes on `host:port` and SFTP on `host:sftp_port` until cancelled or signalled."""
    app = build_app(sftp_host=host, sftp_port=sftp_port)
    # No access log: the fakes sit under benchmarks, and a line per request costs more than the request.
    config = uvicorn.Config(app, host=host, port=port, access_log=False, log_config=None, lifespan="on")
    log.info("mock_platforms.http_listening", host=host, port=port)
    await uvicorn.Server(config).serve()
