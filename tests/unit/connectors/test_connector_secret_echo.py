"""A platform that quotes back every credential it was sent never gets one into an Activator message.

One fake platform refuses every call and quotes everything it was ever sent (header values, token
forms, tokens it issued) bare, URL-encoded, form-encoded, with lower-case percent escapes, or
JSON-escaped inside a JSON document. Each auth type is driven through the real connector (the
Custom API client outbound, the inbound source) and the resulting message is searched for every
form of every secret.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, quote_plus

import httpx
import pytest

from shared.connectors import (
    ConnectorDeps,
    CreateSegmentParams,
    HttpSettings,
    PlatformError,
    create_platform_client,
)
from shared.connectors.auth import StaticHeaderAuth
from shared.connectors.failures import scrub
from shared.connectors.http import PlatformHttp
from shared.connectors.platforms.tradedesk import TradeDeskClient, TradeDeskConfig
from shared.inbound.pager import Pager, PagingLimits
from shared.inbound.source import SourceError, build_inbound_source
from tests.unit.connectors.connector_fakes import FakeSleep, ScriptedPlatform
from tests.unit.inbound.inbound_fakes import inbound_config

# Characters that URL-encoding and JSON-escaping both change, so each echo form differs from the bare one.
KEY = 's3cr3t/Key+with=chars"and\\slash'
OTHER = "second secret & more/+="
PASSWORD = 'pa ss/word+"quoted"'
TOKEN_URL = "https://auth.example/oauth2/token"
PARAMS = CreateSegmentParams(
    name="Auto", description="", cpm=1.5, currency="USD", external_key="c1-t1", data_source_location=""
)


def _lower_percent(value: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda escape: escape.group().lower(), quote(value, safe=""))


ECHOES: dict[str, Callable[[str], str]] = {
    "bare": lambda value: value,
    "url-encoded": lambda value: quote(value, safe=""),
    "form-encoded": quote_plus,
    "lower-case-percent": _lower_percent,
    "json-escaped": lambda value: json.dumps(value)[1:-1],
}


def _every_form(secret: str) -> set[str]:
    return {echo(secret) for echo in ECHOES.values()}


@dataclass
class EchoPlatform:
    """Answers 401 to every call, quoting all it was ever sent; its token endpoint may issue tokens."""

    echo: Callable[[str], str]
    issue_tokens: bool = False
    sent: list[str] = field(default_factory=list)
    issued: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.server = ScriptedPlatform(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if str(request.url) == TOKEN_URL:
            self.sent += [value for _name, value in parse_qsl(request.content.decode())]
            if self.issue_tokens:
                token = f'tok/{len(self.issued) + 1}+"issued"=by-the-platform'
                self.issued.append(token)
                return httpx.Response(200, json={"access_token": token, "expires_in": 3600})
        else:
            self.sent += [
                value.removeprefix("Bearer ")
                for name, value in request.headers.items()
                if name.lower().startswith(("authorization", "x-"))
            ]
        quoted = [self.echo(value) for value in self.sent]
        # The JSON document is the message's text: its escapes survive the body's own decoding.
        message = f"invalid token {' '.join(quoted)}; received {json.dumps({'sent': quoted})}"
        return httpx.Response(401, json={"error": "invalid_token", "message": message})


AUTH_CASES = [
    pytest.param("bearer", {"api_key": KEY}, {}, [KEY], id="bearer"),
    pytest.param("api_key", {"api_key": KEY}, {"api_key_header": "X-Key"}, [KEY], id="api_key"),
    pytest.param("header", {"X-Account": OTHER, "X-Signature": KEY}, {}, [KEY, OTHER], id="header"),
    pytest.param(
        "oauth2",
        {"client_id": "client-id-7", "client_secret": KEY},
        {"token_url": TOKEN_URL},
        [KEY, "client-id-7"],
        id="oauth2-client-secret",
    ),
    pytest.param(
        "oauth2",
        {"username": "someone@example.com", "password": PASSWORD},
        {"token_url": TOKEN_URL},
        [PASSWORD, "someone@example.com"],
        id="oauth2-password",
    ),
]
ECHO_IDS = list(ECHOES)


def _assert_scrubbed(message: str, secrets: list[str]) -> None:
    assert "***" in message, message  # the platform's echo reached the message, with its secrets hidden
    for secret in secrets:
        for form in _every_form(secret):
            assert form.lower() not in message.lower(), (form, message)


def _deps(platform: EchoPlatform) -> ConnectorDeps:
    return ConnectorDeps(transport=platform.server.transport, sleep=FakeSleep())


@pytest.mark.parametrize("echo", ECHO_IDS)
@pytest.mark.parametrize(("auth_type", "credentials", "config", "secrets"), AUTH_CASES)
async def test_an_outbound_echo_is_scrubbed_from_test_and_push_errors(
    echo: str, auth_type: str, credentials: dict[str, str], config: dict[str, str], secrets: list[str]
) -> None:
    platform = EchoPlatform(ECHOES[echo])
    client = create_platform_client(
        "custom_api",
        auth_type,
        credentials,
        {"api_base_url": "https://api.example", "default_cpm": 1.0, "currency": "USD", **config},
        settings=HttpSettings(),
        deps=_deps(platform),
    )
    tested = await client.test_connection()
    with pytest.raises(PlatformError) as pushed:
        await client.create_segment(PARAMS)
    await client.aclose()

    assert platform.sent, "the platform saw no credential to echo"
    assert tested.success is False
    assert tested.error is not None
    _assert_scrubbed(tested.error, secrets)
    _assert_scrubbed(pushed.value.message, secrets)
    _assert_scrubbed(str(pushed.value), secrets)


@pytest.mark.parametrize("echo", ECHO_IDS)
async def test_every_oauth2_token_obtained_is_scrubbed_even_once_replaced(echo: str) -> None:
    # The API refuses the first token, the client renews it once, the API refuses the second and
    # quotes both: the replaced token is still the client's secret.
    platform = EchoPlatform(ECHOES[echo], issue_tokens=True)
    client = create_platform_client(
        "custom_api",
        "oauth2",
        {"client_id": "client-id-7", "client_secret": KEY},
        {
            "api_base_url": "https://api.example",
            "default_cpm": 1.0,
            "currency": "USD",
            "token_url": TOKEN_URL,
        },
        settings=HttpSettings(),
        deps=_deps(platform),
    )
    with pytest.raises(PlatformError) as pushed:
        await client.create_segment(PARAMS)
    await client.aclose()

    assert len(platform.issued) == 2
    _assert_scrubbed(pushed.value.message, [KEY, *platform.issued])


@pytest.mark.parametrize("echo", ECHO_IDS)
@pytest.mark.parametrize(("auth_type", "credentials", "config", "secrets"), AUTH_CASES)
async def test_an_inbound_echo_is_scrubbed_from_the_sync_error(
    echo: str, auth_type: str, credentials: dict[str, str], config: dict[str, str], secrets: list[str]
) -> None:
    platform = EchoPlatform(ECHOES[echo])
    source_config = inbound_config(**config)
    source = build_inbound_source(
        source_config,
        auth_type,
        credentials,
        settings=HttpSettings(),
        deps=_deps(platform),
        pager=Pager(source_config, PagingLimits()),
    )
    with pytest.raises(SourceError) as failed:
        await source.count(None)
    await source.aclose()

    assert platform.sent
    _assert_scrubbed(failed.value.message, secrets)


async def test_a_secret_in_a_source_value_is_scrubbed_before_the_value_is_cut() -> None:
    # The count path leads to a string quoting the key past the 40 characters shown of a value.
    body = {"meta": [{"total": f"not a number, and your key was {KEY}"}]}
    api = ScriptedPlatform(lambda _request: httpx.Response(200, json=body))
    config = inbound_config()
    source = build_inbound_source(
        config,
        "bearer",
        {"api_key": KEY},
        settings=HttpSettings(),
        deps=ConnectorDeps(transport=api.transport, sleep=FakeSleep()),
        pager=Pager(config, PagingLimits()),
    )
    with pytest.raises(SourceError) as failed:
        await source.count(None)
    await source.aclose()

    assert "is not a count" in failed.value.message
    assert KEY[:9] not in failed.value.message


async def test_a_trade_desk_data_rate_rejection_quoting_the_token_is_scrubbed() -> None:
    rejected = {
        "ProcessingStatus": "Failed",
        "Errors": [f"token {quote(KEY, safe='')} may not set partner rates"],
    }

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/datarate/batch"):
            return httpx.Response(200, json=rejected)
        return httpx.Response(200, json={})

    api = ScriptedPlatform(answer)
    http = PlatformHttp(
        platform="tradedesk",
        base_url="https://ttd.example",
        settings=HttpSettings(),
        auth=StaticHeaderAuth({"TTD-Auth": KEY}),
        deps=ConnectorDeps(transport=api.transport, sleep=FakeSleep()),
    )
    config = TradeDeskConfig(
        provider_id="acme", brand_id="b1", partner_id="p1", default_cpm=1.0, currency="USD"
    )
    client = TradeDeskClient(http, config, sleep=FakeSleep())
    with pytest.raises(PlatformError) as caught:
        await client.create_segment(PARAMS)
    await client.aclose()

    assert caught.value.message.startswith("data rate rejected")
    _assert_scrubbed(caught.value.message, [KEY])


def test_short_secrets_are_scrubbed_only_where_they_stand_alone_in_every_form() -> None:
    assert scrub("password p/q rejected, p%2Fq too", ["p/q"]) == "password *** rejected, *** too"
    assert scrub("top/query", ["p/q"]) == "top/query"
