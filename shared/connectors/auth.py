"""Auth strategies applied by the HTTP layer: static headers, or tokens fetched into a shared cache (OAuth2)."""

from __future__ import annotations

import asyncio
import hashlib
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from shared.connectors.credentials import (
    ApiKeyCredentials,
    AuthType,
    HeaderCredentials,
    OAuth2Credentials,
)
from shared.connectors.errors import ConnectorConfigError, ErrorClass, PlatformError

Clock = Callable[[], float]

# A token is dropped this long before the platform says it expires (or a tenth of
# its lifetime for short-lived tokens), so no request leaves with a dying token.
_EXPIRY_MARGIN_S = 60.0
_DEFAULT_EXPIRES_IN_S = 300.0


class TokenEndpoint(Protocol):
    """What token logins need from the HTTP layer: an unauthenticated POST, retried by its caller."""

    async def post_form(self, url: str, form: Mapping[str, str]) -> Any: ...

    async def post_json(self, url: str, body: Mapping[str, object]) -> Any: ...


class AuthStrategy(Protocol):
    """Turns a connection's credentials into request headers."""

    async def headers(self, endpoint: TokenEndpoint, /) -> dict[str, str]:
        """Headers to add to the next request."""
        ...

    async def refresh(self, rejected: Mapping[str, str], endpoint: TokenEndpoint, /) -> bool:
        """After a 401/403 sent with `rejected` headers: renew and return True if worth one more try."""
        ...

    def secrets(self) -> Iterable[str]:
        """Every value to scrub from messages: each credential value, each token obtained, each header built."""
        ...


class StaticHeaderAuth:
    """Bearer, API key and arbitrary-header auth: fixed headers, nothing to refresh.

    `credentials`: the values the headers were built from, when a header wraps them
    (`Bearer <key>`): a platform echoes the key alone as readily as the whole line.
    """

    def __init__(self, headers: Mapping[str, str], *, credentials: Iterable[str] = ()) -> None:
        self._headers = dict(headers)
        self._credentials = [value for value in credentials if value]

    async def headers(self, _endpoint: TokenEndpoint, /) -> dict[str, str]:
        """The configured headers."""
        return dict(self._headers)

    async def refresh(self, _rejected: Mapping[str, str], _endpoint: TokenEndpoint, /) -> bool:
        """A static credential cannot be renewed."""
        return False

    def secrets(self) -> Iterable[str]:
        """The credential values and the header values built from them."""
        return [*self._credentials, *(value for value in self._headers.values() if value)]


def no_auth() -> StaticHeaderAuth:
    """Auth type `none`."""
    return StaticHeaderAuth({})


def bearer_auth(credentials: ApiKeyCredentials) -> StaticHeaderAuth:
    """Auth type `bearer`: `Authorization: Bearer <api_key>`."""
    key = credentials.api_key.get_secret_value()
    return StaticHeaderAuth({"Authorization": f"Bearer {key}"}, credentials=[key])


def api_key_auth(credentials: ApiKeyCredentials, header: str) -> StaticHeaderAuth:
    """Auth type `api_key`: the key in a header named by the connection's config."""
    return StaticHeaderAuth({header: credentials.api_key.get_secret_value()})


def header_auth(credentials: HeaderCredentials) -> StaticHeaderAuth:
    """Auth type `header`: every credential pair as a header."""
    return StaticHeaderAuth({name: value.get_secret_value() for name, value in credentials.root.items()})


@dataclass(frozen=True)
class CachedToken:
    """A token obtained from the platform and the clock reading from which it is no longer sent."""

    access_token: str
    expires_at: float


def expiry_with_margin(obtained_at: float, lifetime_s: float) -> float:
    """When to stop sending a token obtained at `obtained_at` that the platform keeps for `lifetime_s`."""
    return obtained_at + lifetime_s - min(_EXPIRY_MARGIN_S, lifetime_s / 10)


# Module level so every client of the same identity shares one token per process.
_token_cache: dict[str, CachedToken] = {}
# One lock per identity and event loop (an asyncio.Lock must not be shared across loops).
_token_locks: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Lock]] = {}


def reset_token_cache() -> None:
    """Forget every cached token (tests call this between cases)."""
    _token_cache.clear()
    _token_locks.clear()


class CachedTokenAuth(ABC):
    """A token fetched from the platform, one per identity and process, fetched by one caller at a time.

    It is renewed before it expires and replaced once after a 401/403 (`refresh`).
    """

    def __init__(self, cache_key: str, *, clock: Clock) -> None:
        self._key = cache_key
        self._clock = clock
        # Every token this client sent: one replaced since may still be quoted back in an error.
        self._tokens: set[str] = set()

    @abstractmethod
    def _header(self, token: str) -> dict[str, str]:
        """The request headers carrying `token`."""

    @abstractmethod
    def _sent_token(self, rejected: Mapping[str, str]) -> str:
        """The token inside headers built by `_header`."""

    @abstractmethod
    def _credential_values(self) -> list[str]:
        """Every credential value the token is fetched with, identifiers included."""

    @abstractmethod
    async def _fetch(self, endpoint: TokenEndpoint) -> CachedToken:
        """Ask the platform for a new token."""

    async def headers(self, endpoint: TokenEndpoint, /) -> dict[str, str]:
        """The token's headers, fetching a token when none is cached or it is about to expire."""
        return self._header(await self._token(endpoint, stale=None))

    async def refresh(self, rejected: Mapping[str, str], endpoint: TokenEndpoint, /) -> bool:
        """Replace the rejected token, unless a concurrent caller already did."""
        await self._token(endpoint, stale=self._sent_token(rejected))
        return True

    def secrets(self) -> Iterable[str]:
        """Every credential value, every token sent, and the cached token."""
        cached = _token_cache.get(self._key)
        # A token covers its header line too: the scrubber matches it inside the line.
        tokens = [*self._tokens, *([cached.access_token] if cached else [])]
        return [*(value for value in self._credential_values() if value), *tokens]

    async def _token(self, endpoint: TokenEndpoint, *, stale: str | None) -> str:
        token = await self._current(endpoint, stale=stale)
        self._tokens.add(token)
        return token

    async def _current(self, endpoint: TokenEndpoint, *, stale: str | None) -> str:
        cached = self._usable(stale)
        if cached:
            return cached
        async with _lock_for(self._key):
            # Whoever held the lock before us may have fetched the token we need.
            cached = self._usable(stale)
            if cached:
                return cached
            token = await self._fetch(endpoint)
            _token_cache[self._key] = token
            return token.access_token

    def _usable(self, stale: str | None) -> str | None:
        cached = _token_cache.get(self._key)
        if cached is None or cached.access_token == stale or cached.expires_at <= self._clock():
            return None
        return cached.access_token


class OAuth2Auth(CachedTokenAuth):
    """OAuth2 password or client-credentials grant, as `Authorization: Bearer <token>`."""

    def __init__(
        self,
        credentials: OAuth2Credentials,
        *,
        token_url: str,
        scope: str | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        super().__init__(_cache_key(credentials, token_url, scope), clock=clock)
        self._credentials = credentials
        self._token_url = token_url
        self._scope = scope

    def _header(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def _sent_token(self, rejected: Mapping[str, str]) -> str:
        return rejected.get("Authorization", "").removeprefix("Bearer ")

    def _credential_values(self) -> list[str]:
        creds = self._credentials
        hidden = [value.get_secret_value() for value in (creds.client_secret, creds.password) if value]
        return [*hidden, *(value for value in (creds.client_id, creds.username) if value)]

    async def _fetch(self, endpoint: TokenEndpoint) -> CachedToken:
        body = await endpoint.post_form(self._token_url, self._form())
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise PlatformError(ErrorClass.AUTH, "token endpoint answered without an access_token")
        expires_in = body.get("expires_in", _DEFAULT_EXPIRES_IN_S)
        lifetime = float(expires_in) if isinstance(expires_in, int | float) else _DEFAULT_EXPIRES_IN_S
        return CachedToken(access_token=token, expires_at=expiry_with_margin(self._clock(), lifetime))

    def _form(self) -> dict[str, str]:
        creds = self._credentials
        form: dict[str, str] = {"grant_type": creds.grant_type}
        if creds.grant_type == "password" and creds.username and creds.password:
            form |= {"username": creds.username, "password": creds.password.get_secret_value()}
        if creds.client_id:
            form["client_id"] = creds.client_id
        if creds.client_secret:
            form["client_secret"] = creds.client_secret.get_secret_value()
        if self._scope:
            form["scope"] = self._scope
        return form


def _lock_for(key: str) -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    held = _token_locks.get(key)
    if held is None or held[0] is not loop:
        held = (loop, asyncio.Lock())
        _token_locks[key] = held
    return held[1]


def _cache_key(credentials: OAuth2Credentials, token_url: str, scope: str | None) -> str:
    # The secret's digest is part of the key: two connections naming the same client
    # with different secrets must not share a token obtained by the right one.
    secret = credentials.client_secret or credentials.password
    digest = hashlib.sha256(secret.get_secret_value().encode() if secret else b"").hexdigest()
    who = f"user:{credentials.username}" if credentials.username else f"client:{credentials.client_id}"
    return "|".join([token_url, who, credentials.client_id or "", scope or "", digest])


def build_auth(
    auth_type: AuthType,
    credentials: object,
    *,
    api_key_header: str = "X-API-Key",
    token_url: str | None = None,
    scope: str | None = None,
    clock: Clock = time.monotonic,
) -> AuthStrategy:
    """The strategy for a connection's auth type and validated credentials."""
    if auth_type == "none":
        return no_auth()
    if auth_type == "bearer" and isinstance(credentials, ApiKeyCredentials):
        return bearer_auth(credentials)
    if auth_type == "api_key" and isinstance(credentials, ApiKeyCredentials):
        return api_key_auth(credentials, api_key_header)
    if auth_type == "header" and isinstance(credentials, HeaderCredentials):
        return header_auth(credentials)
    if auth_type == "oauth2" and isinstance(credentials, OAuth2Credentials):
        if not token_url:
            raise ConnectorConfigError(
                "config.token_url: required for oauth2", field_errors=(("config.token_url", "required"),)
            )
        return OAuth2Auth(credentials, token_url=token_url, scope=scope, clock=clock)
    raise ConnectorConfigError(f"auth_type: credentials do not fit auth type {auth_type!r}")
