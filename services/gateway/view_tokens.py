"""Short-lived signed tokens that let a browser page read one run's live status without an API key.

EventSource cannot send an Authorization header, so the page passes a token in the query string. A
token names one org and one run and expires after RUN_VIEW_TOKEN_TTL_S; it grants nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Sequence

_PURPOSE = b"activator/run-view-token/v1"


def token_secret(encryption_key: str) -> bytes:
    """The signing key, derived from the credentials key every gateway replica already shares."""
    return hmac.new(encryption_key.encode(), _PURPOSE, hashlib.sha256).digest()


def _signature(secret: bytes, org_id: uuid.UUID, run_id: uuid.UUID, expires: int) -> str:
    digest = hmac.new(secret, f"{org_id}|{run_id}|{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def mint(secret: bytes, org_id: uuid.UUID, run_id: uuid.UUID, expires: int) -> str:
    """A token for `run_id` of `org_id`, valid until the Unix time `expires`."""
    return f"{org_id.hex}.{expires}.{_signature(secret, org_id, run_id, expires)}"


def verify(secret: bytes, token: str, run_id: uuid.UUID, now: float) -> uuid.UUID | None:
    """The org the token was minted for, if it is genuine, for this run and not expired."""
    org_hex, _, rest = token.partition(".")
    expires_text, _, signature = rest.partition(".")
    try:
        org_id = uuid.UUID(hex=org_hex)
        expires = int(expires_text)
    except ValueError:
        return None
    if expires < now:
        return None
    if not hmac.compare_digest(signature, _signature(secret, org_id, run_id, expires)):
        return None
    return org_id


def verify_with_any(
    encryption_keys: Sequence[str], token: str, run_id: uuid.UUID, now: float
) -> uuid.UUID | None:
    """`verify` under each key in turn (the current credentials key, then the previous one while rotating)."""
    for key in encryption_keys:
        org_id = verify(token_secret(key), token, run_id, now)
        if org_id is not None:
            return org_id
    return None
