"""The Trade Desk's auth: a pasted token, or a login minting short-lived tokens through /v3/authentication."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from pydantic import SecretStr

from shared.connectors.auth import (
    AuthStrategy,
    CachedToken,
    CachedTokenAuth,
    Clock,
    StaticHeaderAuth,
    TokenEndpoint,
    expiry_with_margin,
)
from shared.connectors.credentials import TradeDeskCredentials
from shared.connectors.errors import ConnectorConfigError, ErrorClass, PlatformError

AUTHENTICATION_PATH = "/v3/authentication"
# TTD's default and maximum lifetime of a token minted through the API: 24 hours.
TOKEN_EXPIRATION_MINUTES = 1440
_HEADER = "TTD-Auth"
# What /v3/authentication answers for a login it will not take is not public: each of these is the login.
_LOGIN_REFUSED = {400, 401, 403}


class LoginRefused(PlatformError):
    """/v3/authentication refused the login: a credentials failure, never one item's (even as a 403)."""


class TradeDeskLoginAuth(CachedTokenAuth):
    """`TTD-Auth: <token>` with tokens minted from the login and password, cached like OAuth2 tokens."""

    def __init__(
        self,
        login: str,
        password: SecretStr,
        *,
        base_url: str,
        clock: Clock,
        expiration_minutes: int = TOKEN_EXPIRATION_MINUTES,
    ) -> None:
        super().__init__(_cache_key(base_url, login, password), clock=clock)
        self._login = login
        self._password = password
        self._minutes = expiration_minutes

    def _header(self, token: str) -> dict[str, str]:
        return {_HEADER: token}

    def _sent_token(self, rejected: Mapping[str, str]) -> str:
        return rejected.get(_HEADER, "")

    def _credential_values(self) -> list[str]:
        return [self._password.get_secret_value(), self._login]

    async def _fetch(self, endpoint: TokenEndpoint) -> CachedToken:
        # The lifetime counts from before the request: TTD's clock starts no earlier than ours.
        minted_at = self._clock()
        login = {
            "Login": self._login,
            "Password": self._password.get_secret_value(),
            "TokenExpirationInMinutes": self._minutes,
        }
        try:
            body = await endpoint.post_json(AUTHENTICATION_PATH, login)
        except PlatformError as exc:
            if exc.status_code not in _LOGIN_REFUSED:
                raise
            raise LoginRefused(
                ErrorClass.AUTH,
                f"login refused by {AUTHENTICATION_PATH}: {exc.message}",
                status_code=exc.status_code,
            ) from None
        token = body.get("Token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise LoginRefused(ErrorClass.AUTH, f"{AUTHENTICATION_PATH} answered without a Token")
        return CachedToken(access_token=token, expires_at=expiry_with_margin(minted_at, self._minutes * 60.0))


def tradedesk_auth(credentials: TradeDeskCredentials, *, base_url: str, clock: Clock) -> AuthStrategy:
    """The pasted token as a fixed header, or a login that mints and renews tokens."""
    if credentials.api_key is not None:
        return StaticHeaderAuth({_HEADER: credentials.api_key.get_secret_value()})
    if credentials.login is None or credentials.password is None:  # the model allows no other shape
        raise ConnectorConfigError("credentials: api_key, or login and password, is required")
    return TradeDeskLoginAuth(credentials.login, credentials.password, base_url=base_url, clock=clock)


def _cache_key(base_url: str, login: str, password: SecretStr) -> str:
    # The password's digest is part of the key: a connection with a wrong password must not borrow
    # the token minted by a right one.
    digest = hashlib.sha256(password.get_secret_value().encode()).hexdigest()
    return "|".join(["tradedesk", base_url, login, digest])
