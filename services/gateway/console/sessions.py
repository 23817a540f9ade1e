"""Cookie authentication for the console, beside (never instead of) `Authorization: Bearer`.

The cookie is HttpOnly and SameSite=Strict; every state-changing request made with it must also carry
the session's CSRF token in `X-CSRF-Token`, which only a page of this origin can read (GET /api/session).
"""

from __future__ import annotations

import uuid

from fastapi import Request, Response

from services.gateway.problems import Problem
from shared.db.console_sessions import ConsoleSession, find_session
from shared.db.pool import PgPool

SESSION_COOKIE = "activator_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def has_session_cookie(request: Request) -> bool:
    """Whether the request carries a console session cookie at all."""
    return SESSION_COOKIE in request.cookies


async def current_session(request: Request, pool: PgPool) -> ConsoleSession:
    """The request's live session (looked up once per request), or a 401."""
    cached: ConsoleSession | None = getattr(request.state, "console_session", None)
    if cached is not None:
        return cached
    token = request.cookies.get(SESSION_COOKIE, "")
    session = await find_session(pool, token) if token else None
    if session is None:
        raise Problem(401, "Unauthorized", "The console session is unknown, expired or signed out")
    request.state.console_session = session
    return session


async def session_org_id(request: Request, pool: PgPool) -> uuid.UUID:
    """The org of a cookie-authenticated request; a 403 for a state change without the CSRF token."""
    session = await current_session(request, pool)
    if request.method not in SAFE_METHODS:
        token = request.headers.get(CSRF_HEADER, "")
        if not token or not session.csrf_matches(token):
            raise Problem(
                403,
                "Forbidden",
                f"A request authenticated by the session cookie must send its CSRF token in {CSRF_HEADER}",
            )
    return session.org_id


def set_session_cookie(request: Request, response: Response, session: ConsoleSession, ttl_s: int) -> None:
    """The session cookie: HttpOnly, SameSite=Strict, Secure when the request came over https."""
    response.set_cookie(
        SESSION_COOKIE,
        session.token,
        max_age=ttl_s,
        path="/",
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="strict",
    )


def clear_session_cookie(request: Request, response: Response) -> None:
    """Tell the browser to drop the cookie (the row is already gone)."""
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, secure=request.url.scheme == "https", samesite="strict"
    )
