"""Credential shapes per auth type; values are SecretStr so they never reach a repr or a log."""

from __future__ import annotations

import re
from typing import Annotated, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

AuthType = Literal["oauth2", "bearer", "api_key", "header", "none"]

_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


def _not_blank(value: SecretStr) -> SecretStr:
    if not value.get_secret_value().strip():
        raise ValueError("must not be empty")
    return value


Secret = Annotated[SecretStr, AfterValidator(_not_blank)]


class _Credentials(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class NoCredentials(_Credentials):
    """Auth type `none`: nothing to send."""


class ApiKeyCredentials(_Credentials):
    """Auth types `bearer` and `api_key`: one static key."""

    api_key: Secret


class OAuth2Credentials(_Credentials):
    """Auth type `oauth2`: client-credentials grant, or password grant with an optional client id."""

    client_id: str | None = None
    client_secret: Secret | None = None
    username: str | None = None
    password: Secret | None = None

    @model_validator(mode="after")
    def _one_grant(self) -> Self:
        if self.username is not None or self.password is not None:
            if not self.username:
                raise ValueError("username is required with password (password grant)")
            if self.password is None:
                raise ValueError("password is required with username (password grant)")
            return self
        if not self.client_id:
            raise ValueError("client_id is required (or username and password for the password grant)")
        if self.client_secret is None:
            raise ValueError("client_secret is required with client_id (client-credentials grant)")
        return self

    @property
    def grant_type(self) -> Literal["password", "client_credentials"]:
        """The OAuth2 grant these credentials call for."""
        return "password" if self.username else "client_credentials"


def _not_blank_text(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def _field_error(model: str, field: str, message: str) -> ValidationError:
    # A ValidationError of our own keeps the field's location (a ValueError would name no field).
    details = InitErrorDetails(type=PydanticCustomError("value_error", message), loc=(field,), input=None)
    return ValidationError.from_exception_data(model, [details])


class TradeDeskCredentials(_Credentials):
    """The Trade Desk (auth type `bearer`): a pasted API token, or a login whose password mints tokens."""

    api_key: Secret | None = None
    login: Annotated[str, AfterValidator(_not_blank_text)] | None = None
    password: Secret | None = None

    @model_validator(mode="after")
    def _one_mode(self) -> Self:
        with_login = self.login is not None or self.password is not None
        if self.api_key is not None and with_login:
            raise _field_error(
                "TradeDeskCredentials", "api_key", "give either api_key or login and password, not both"
            )
        if self.api_key is None and not with_login:
            raise _field_error("TradeDeskCredentials", "api_key", "required (or login and password instead)")
        if with_login and self.login is None:
            raise _field_error("TradeDeskCredentials", "login", "required with password")
        if with_login and self.password is None:
            raise _field_error("TradeDeskCredentials", "password", "required with login")
        return self


def _valid_headers(headers: dict[str, SecretStr]) -> dict[str, SecretStr]:
    if not headers:
        raise ValueError("at least one header is required")
    for name, value in headers.items():
        if not _HEADER_NAME.match(name):
            raise ValueError(f"{name!r} is not a valid header name")
        if any(ch in value.get_secret_value() for ch in "\r\n"):
            raise ValueError(f"value of header {name!r} contains a line break")
    return headers


class HeaderCredentials(RootModel[Annotated[dict[str, SecretStr], AfterValidator(_valid_headers)]]):
    """Auth type `header`: every pair is sent as a request header."""

    model_config = ConfigDict(frozen=True)


class SftpPasswordCredentials(_Credentials):
    """Index Exchange's SFTP login (auth type `header` in the seed's vocabulary)."""

    username: str
    password: Secret


class S3AccessKeyCredentials(_Credentials):
    """Index Exchange's S3 drop: an access key pair (auth type `header`, like the SFTP login)."""

    access_key_id: Annotated[str, Field(min_length=1)]
    secret_access_key: Secret
