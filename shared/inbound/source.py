"""An inbound connection's API: its count and its pages, over the shared resilient HTTP layer."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

import httpx
import pydantic_core
from pydantic import BaseModel

from shared.connectors.auth import build_auth
from shared.connectors.credentials import (
    ApiKeyCredentials,
    AuthType,
    HeaderCredentials,
    NoCredentials,
    OAuth2Credentials,
)
from shared.connectors.deps import ConnectorDeps
from shared.connectors.errors import ConnectorConfigError, ErrorClass, PlatformError
from shared.connectors.factory import validate_section
from shared.connectors.failures import scrub, trim
from shared.connectors.http import PlatformHttp
from shared.connectors.http_settings import HttpSettings
from shared.connectors.throttle import ConnectionThrottle
from shared.inbound.checkpoint import SyncCheckpoint
from shared.inbound.config import InboundConfig
from shared.inbound.pager import FetchedPage, Pager, digest
from shared.inbound.paths import MISSING, PathNotFound, resolve, resolve_or_raise

CREDENTIALS_MODELS: Mapping[AuthType, type[BaseModel]] = {
    "none": NoCredentials,
    "bearer": ApiKeyCredentials,
    "api_key": ApiKeyCredentials,
    "header": HeaderCredentials,
    "oauth2": OAuth2Credentials,
}


# Where the next cursor is looked for without a cursor_response_path, in this order: the first holding
# a non-empty string or an integer is the next cursor.
DEFAULT_CURSOR_PATHS = (
    "next_cursor",
    "nextCursor",
    "cursor",
    "meta.next_cursor",
    "meta.nextCursor",
    "meta.cursor",
    "pagination.next_cursor",
    "pagination.nextCursor",
    "pagination.cursor",
    "paging.next_cursor",
    "paging.nextCursor",
    "paging.cursor",
)


class SourceError(Exception):
    """The source's answer cannot be used (HTTP failure after retries, bad JSON, a path that is not there)."""

    def __init__(self, message: str, *, error_class: ErrorClass = ErrorClass.PERMANENT) -> None:
        super().__init__(message)
        self.message = message
        self.error_class = error_class


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


class InboundSource:
    """Reads one inbound connection: `count()` once, then `page(checkpoint)` until the pager says done."""

    def __init__(self, config: InboundConfig, http: PlatformHttp, pager: Pager) -> None:
        self._config = config
        self._http = http
        self.pager = pager

    async def count(self, since: str | None) -> int | None:
        """The source's total for this run's filters, or None without a count endpoint."""
        config = self._config
        if not config.count_endpoint:
            return None
        url = httpx.URL(config.base_url).join(config.count_endpoint)
        body = await self._get(url, self._params({}, since))
        path = config.count_response_path or ""
        try:
            value = resolve_or_raise(body, path)
        except PathNotFound as exc:
            raise self._error(f"count_response_path {exc}") from None
        total = _as_count(value)
        if total is None:
            raise self._error(f"count_response_path {path!r} is not a count (got {self._shown(value)})")
        return total

    async def page(self, checkpoint: SyncCheckpoint) -> FetchedPage:
        """The page after `checkpoint`."""
        config = self._config
        params = self._params(self.pager.params(checkpoint), checkpoint.since)
        body = await self._get(httpx.URL(config.base_url), params)
        try:
            items = resolve_or_raise(body, config.response_path)
        except PathNotFound as exc:
            raise self._error(f"response_path {exc}") from None
        if not isinstance(items, list):
            raise self._error(
                f"response_path {config.response_path!r} is not a list (got {self._shown(items)})"
            )
        next_cursor, no_cursor_means_end = self._next_cursor(body)
        return FetchedPage(
            items=items,
            next_cursor=next_cursor,
            content_hash=digest(json.dumps(items, sort_keys=True, separators=(",", ":"))),
            no_cursor_means_end=no_cursor_means_end,
        )

    async def aclose(self) -> None:
        """Close the HTTP pool."""
        await self._http.aclose()

    def _next_cursor(self, body: object) -> tuple[str | None, bool]:
        """The next cursor, and whether its absence ends the listing (see FetchedPage)."""
        if self._config.pagination_type != "cursor":
            return None, True
        path = self._config.pagination_params.cursor_response_path
        if path is not None:
            value = resolve(body, path)
            if value is MISSING or value is None or value == "":
                return None, True
            cursor = _as_cursor(value)
            if cursor is None:
                raise self._error(f"cursor_response_path {path!r} is not a cursor (got {self._shown(value)})")
            return cursor, True
        stated_end = False
        for candidate in DEFAULT_CURSOR_PATHS:
            value = resolve(body, candidate)
            cursor = _as_cursor(value)
            if cursor is not None:
                return cursor, True
            # null or "" at a cursor key says "no next page"; a missing key says nothing.
            stated_end = stated_end or value is None or value == ""
        return None, stated_end

    def _params(self, paging: Mapping[str, str], since: str | None) -> dict[str, str]:
        config = self._config
        params = {**config.filters, **paging}
        if since is not None and config.incremental_param:
            params[config.incremental_param] = since
        return params

    async def _get(self, url: httpx.URL, params: Mapping[str, str]) -> Any:
        try:
            response = await self._http.request("GET", str(url.copy_merge_params(params)))
        except PlatformError as exc:
            prefix = "the source refused the credentials: " if exc.error_class is ErrorClass.AUTH else ""
            raise self._error(prefix + exc.message, error_class=exc.error_class) from None
        try:
            return _parsed(response.content)
        except ValueError as exc:
            excerpt = trim(scrub(response.text, self._http.secrets()), 120)
            raise self._error(f"the body is not valid JSON ({exc}): {excerpt!r}") from None

    def _error(self, message: str, *, error_class: ErrorClass = ErrorClass.PERMANENT) -> SourceError:
        # Every message quotes the source's answer somewhere (a path's value, the body): scrub it
        # here, once, so a run's status reason never carries what the source echoed of our secrets.
        return SourceError(scrub(message, self._http.secrets()), error_class=error_class)

    def _shown(self, value: object) -> str:
        if isinstance(value, dict):
            return "an object"
        if isinstance(value, list):
            return "a list"
        if value is None:
            return "null"
        # Scrubbed before it is cut: a secret cut in two would no longer be recognised.
        return f"{type(value).__name__} {scrub(str(value), self._http.secrets())[:40]!r}"


def _parsed(body: bytes) -> Any:
    """The body as `json.loads` reads it (NaN and Infinity refused), by pydantic's parser in two thirds of
    the time; `json.loads` itself for what that refuses (a BOM, a lone surrogate), so as not to refuse
    more, and for the error message."""
    try:
        return pydantic_core.from_json(body, allow_inf_nan=False)
    except ValueError:
        return json.loads(body, parse_constant=_reject_constant)


def _as_cursor(value: object) -> str | None:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _as_count(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def inbound_credentials(auth_type: str, credentials: Mapping[str, Any] | None) -> tuple[AuthType, BaseModel]:
    """The auth type and its credentials as an inbound source sends them, or ConnectorConfigError naming
    the field at fault (never its value)."""
    auth = next((accepted for accepted in CREDENTIALS_MODELS if accepted == auth_type), None)
    if auth is None:
        known = ", ".join(CREDENTIALS_MODELS)
        raise ConnectorConfigError(
            f"auth_type: {auth_type!r} is not supported for inbound sync (supported: {known})",
            field_errors=(("auth_type", f"not supported for inbound sync; supported: {known}"),),
        )
    validated: BaseModel = validate_section("credentials", CREDENTIALS_MODELS[auth], credentials or {})
    return auth, validated


def build_inbound_source(
    config: InboundConfig,
    auth_type: str,
    credentials: Mapping[str, Any] | None,
    *,
    settings: HttpSettings,
    deps: ConnectorDeps,
    pager: Pager,
) -> InboundSource:
    """A source for the connection, or ConnectorConfigError when its credentials do not fit its auth type."""
    auth, validated = inbound_credentials(auth_type, credentials)
    strategy = build_auth(
        auth,
        validated,
        api_key_header=config.api_key_header,
        token_url=config.token_url,
        scope=config.scope,
        clock=deps.clock,
    )
    if config.rate_limit_rps is not None and deps.throttle is None:
        # One budget for the run's requests, however many pages are in flight at once.
        deps = dataclasses.replace(
            deps, throttle=ConnectionThrottle(rps=config.rate_limit_rps, clock=deps.clock, sleep=deps.sleep)
        )
    http = PlatformHttp(
        platform="inbound",
        base_url=config.base_url,
        settings=settings,
        deps=deps,
        auth=strategy,
        default_headers=config.extra_headers,
    )
    return InboundSource(config, http, pager)
