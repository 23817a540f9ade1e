"""/api/session: the console's sign-in (an org API key for a session cookie), its CSRF token, sign-out."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import ConfigDict, Field, SecretStr

from services.gateway.console.sessions import (
    clear_session_cookie,
    current_session,
    session_org_id,
    set_session_cookie,
)
from services.gateway.deps import AppSettings, Pool
from services.gateway.problems import Problem
from services.gateway.schemas.base import ApiModel
from shared.db.console_sessions import ConsoleSession, close_session, open_session, prune_expired_sessions
from shared.db.orgs import KeyScope

router = APIRouter(prefix="/api/session", tags=["console session"])


class SignInInput(ApiModel):
    """The key travels in the body only: never in a URL, never stored by the browser."""

    api_key: SecretStr = Field(min_length=1, max_length=500)

    model_config = ConfigDict(json_schema_extra={"examples": [{"apiKey": "act_…"}]})


class SessionOut(ApiModel):
    org_id: str
    csrf_token: str = Field(description="Send it as X-CSRF-Token on every state-changing request")
    expires_at: datetime
    scope: KeyScope = Field(description="The scope of the key signed in with: `read` sessions change nothing")

    @classmethod
    def of(cls, session: ConsoleSession) -> SessionOut:
        """What the console is told about its session."""
        return cls(
            org_id=str(session.org_id),
            csrf_token=session.csrf_token,
            expires_at=session.expires_at,
            scope=session.scope,
        )


async def _session(request: Request, pool: Pool) -> ConsoleSession:
    return await current_session(request, pool)


async def _session_with_csrf(request: Request, pool: Pool) -> ConsoleSession:
    await session_org_id(request, pool)  # the 403 without the CSRF token
    return await current_session(request, pool)


@router.post("", status_code=201)
async def sign_in(
    body: SignInInput, request: Request, response: Response, pool: Pool, settings: AppSettings
) -> SessionOut:
    """Exchange an org API key for a session cookie (HttpOnly, SameSite=Strict, Secure over https)."""
    # FastAPI reads the body only as application/json (a 422 otherwise): a cross-site form, which can post
    # text/plain but not JSON without a CORS preflight, cannot sign a browser in to another org (login CSRF).
    await prune_expired_sessions(pool)
    ttl_s = settings.console_session_ttl_s
    opened = await open_session(pool, body.api_key.get_secret_value(), ttl_s)
    if opened is None:
        raise Problem(401, "Unauthorized", "The API key is unknown or revoked")
    set_session_cookie(request, response, opened, ttl_s)
    return SessionOut.of(opened)


@router.get("")
async def get_session(session: Annotated[ConsoleSession, Depends(_session)]) -> SessionOut:
    """The signed-in session with its CSRF token (a reloaded page asks again); 401 when signed out."""
    return SessionOut.of(session)


@router.delete("", status_code=204)
async def sign_out(
    request: Request, pool: Pool, session: Annotated[ConsoleSession, Depends(_session_with_csrf)]
) -> Response:
    """End the session: its row is deleted, so the cookie authenticates nothing any more."""
    await close_session(pool, session.id)
    response = Response(status_code=204)
    clear_session_cookie(request, response)
    return response
