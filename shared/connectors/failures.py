"""Turn a failed platform response into a PlatformError: class, readable message, no secrets."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import quote, quote_plus

import httpx

from shared.connectors.errors import ErrorClass, PlatformError

MESSAGE_LIMIT = 300
_MESSAGE_KEYS = ("message", "Message", "error_description", "error", "detail", "title", "errors", "Errors")
_TAGS = re.compile(r"<(head|script|style)\b.*?</\1>|<[^>]+>", re.IGNORECASE | re.DOTALL)
_SPACES = re.compile(r"\s+")


def classify_status(status_code: int) -> ErrorClass:
    """The error class of a non-success HTTP status."""
    if status_code in (401, 403):
        return ErrorClass.AUTH
    if status_code == 429:
        return ErrorClass.RATE_LIMITED
    if status_code >= 500:
        return ErrorClass.RETRYABLE
    if 400 <= status_code < 500:
        return ErrorClass.PERMANENT
    return ErrorClass.UNKNOWN


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


_SHORT_SECRET = 8
_ALNUM = "A-Za-z0-9"


def _echoes(secret: str) -> set[str]:
    """The forms a platform may echo `secret` back in: as sent, URL-encoded, JSON-escaped, HTML-escaped."""
    return {
        secret,
        quote(secret, safe=""),
        quote(secret),  # "/" kept, as in a path
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        html.escape(secret),
    }


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Replace every credential value found in `text`, in any form a platform may echo it, with `***`.

    Matching ignores case, so `%2f` is caught like `%2F`: hiding a look-alike costs a word of
    a message, missing a secret costs the secret.
    """
    forms = {form for secret in secrets if secret for form in _echoes(secret)}
    if not forms:
        return text
    patterns = []
    for form in sorted(forms, key=len, reverse=True):  # longest first: "Bearer x" before "x"
        if len(form) >= _SHORT_SECRET:
            patterns.append(re.escape(form))
        else:
            # A short secret ("p", "test") is only replaced where it stands alone, not inside every word.
            patterns.append(rf"(?<![{_ALNUM}]){re.escape(form)}(?![{_ALNUM}])")
    return re.sub("|".join(patterns), "***", text, flags=re.IGNORECASE)


def trim(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """Collapse whitespace and cut to `limit` characters."""
    text = _SPACES.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def platform_message(response: httpx.Response) -> str:
    """The platform's own explanation: a JSON message field, else the body's text without markup."""
    text = response.text
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    found = _message_from(body)
    if found:
        return found
    if "<" in text and ">" in text:
        text = html.unescape(_TAGS.sub(" ", text))
    return text if text.strip() else response.reason_phrase


def _message_from(body: object, depth: int = 0) -> str | None:
    if depth > 4:
        return None
    if isinstance(body, str):
        return body or None
    if isinstance(body, list):
        parts = [part for part in (_message_from(item, depth + 1) for item in body[:5]) if part]
        return "; ".join(parts) or None
    if isinstance(body, dict):
        for key in _MESSAGE_KEYS:
            found = _message_from(body.get(key), depth + 1)
            if found:
                return found
    return None


def oauth_error_code(response: httpx.Response) -> str | None:
    """The `error` code of an OAuth2 error body (RFC 6749 section 5.2), if there is one."""
    try:
        body = response.json()
    except ValueError:
        return None
    code = body.get("error") if isinstance(body, dict) else None
    return code if isinstance(code, str) else None


def error_from_response(response: httpx.Response, secrets: Iterable[str]) -> PlatformError:
    """A PlatformError for a non-success response, carrying the platform's message and Retry-After."""
    status = response.status_code
    message = trim(scrub(f"HTTP {status}: {platform_message(response)}", secrets))
    return PlatformError(
        classify_status(status),
        message,
        status_code=status,
        retry_after=parse_retry_after(response.headers.get("Retry-After")),
    )


def error_from_transport(exc: Exception, secrets: Iterable[str], *, timeout_s: float) -> PlatformError:
    """A retryable PlatformError for a timeout or a network failure."""
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        message = f"timed out after {timeout_s:g} s ({type(exc).__name__})"
    else:
        message = f"network error: {type(exc).__name__}: {exc}"
    return PlatformError(ErrorClass.RETRYABLE, trim(scrub(message, secrets)))


def malformed(what: str, secrets: Iterable[str] = ()) -> PlatformError:
    """A permanent PlatformError for a success response whose body is not what the wire format promises."""
    return PlatformError(ErrorClass.PERMANENT, trim(scrub(f"malformed response: {what}", secrets)))


def require_segment_id(body: object, key: str = "id") -> str:
    """The segment id in a success body, or a permanent PlatformError when it is missing."""
    segment_id = body.get(key) if isinstance(body, dict) else None
    if isinstance(segment_id, bool) or not isinstance(segment_id, str | int) or segment_id == "":
        raise malformed(f"segment without {key!r}")
    return str(segment_id)
