"""Console sessions: a browser's sign-in with an org API key, kept as the digest of its cookie token."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from shared.db.orgs import KeyScope, hash_api_key
from shared.db.pool import Db

_CSRF_PURPOSE = b"activator/console-csrf/v1"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token_for(session_token: str) -> str:
    """The CSRF token bound to a session: derived from the HttpOnly cookie token, so a page of another
    origin can neither read nor compute it, and a reloaded console page can ask for it again."""
    digest = hmac.new(session_token.encode(), _CSRF_PURPOSE, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass(frozen=True)
class ConsoleSession:
    """A live session: whose it is, until when, the CSRF token its state changes must send, and the scope
    of the key that opened it (a session of a `read` key is read-only too)."""

    id: uuid.UUID
    org_id: uuid.UUID
    expires_at: datetime
    token: str
    scope: KeyScope = KeyScope.ADMIN

    @property
    def csrf_token(self) -> str:
        """The token the console echoes in X-CSRF-Token."""
        return csrf_token_for(self.token)

    def csrf_matches(self, candidate: str) -> bool:
        """Whether a request's CSRF header is this session's token (constant-time)."""
        return hmac.compare_digest(candidate.encode(), self.csrf_token.encode())


async def open_session(db: Db, api_key: str, ttl_s: int) -> ConsoleSession | None:
    """A session for a live API key valid `ttl_s` seconds, or None for an unknown or revoked key."""
    token = secrets.token_urlsafe(32)
    row = await db.fetchrow(
        """WITH key AS (SELECT id, org_id, scope FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL),
                opened AS (INSERT INTO console_sessions (org_id, api_key_id, token_hash, expires_at)
                           SELECT org_id, id, $2, now() + make_interval(secs => $3) FROM key
                           RETURNING id, org_id, expires_at)
           SELECT opened.id, opened.org_id, opened.expires_at, key.scope FROM opened, key""",
        hash_api_key(api_key),
        _digest(token),
        float(ttl_s),
    )
    if row is None:
        return None
    return ConsoleSession(row["id"], row["org_id"], row["expires_at"], token, KeyScope(row["scope"]))


async def find_session(db: Db, token: str) -> ConsoleSession | None:
    """The unexpired session of a cookie token whose API key is still live."""
    row = await db.fetchrow(
        """SELECT s.id, s.org_id, s.expires_at, k.scope
           FROM console_sessions s JOIN api_keys k ON k.id = s.api_key_id
           WHERE s.token_hash = $1 AND s.expires_at > now() AND k.revoked_at IS NULL""",
        _digest(token),
    )
    if row is None:
        return None
    return ConsoleSession(row["id"], row["org_id"], row["expires_at"], token, KeyScope(row["scope"]))


async def close_session(db: Db, session_id: uuid.UUID) -> None:
    """Sign-out: the session's row goes, so its cookie authenticates nothing any more."""
    await db.execute("DELETE FROM console_sessions WHERE id = $1", session_id)


async def prune_expired_sessions(db: Db) -> int:
    """Delete expired sessions; returns how many."""
    result: str = await db.execute("DELETE FROM console_sessions WHERE expires_at <= now()")
    return int(result.rsplit(maxsplit=1)[-1])
