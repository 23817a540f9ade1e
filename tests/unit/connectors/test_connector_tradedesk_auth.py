"""The Trade Desk's login mode: tokens minted through /v3/authentication, cached, renewed, never quoted back."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from structlog.testing import capture_logs

from services.mock_platforms.app import build_app
from services.mock_platforms.state import MockState
from shared.connectors import (
    ConnectorDeps,
    CreateSegmentParams,
    ErrorClass,
    HttpSettings,
    PlatformClient,
    PlatformError,
    create_platform_client,
)
from shared.connectors.errors import ConnectorConfigError
from shared.connectors.factory import validate_outbound_config
from tests.unit.connectors.connector_fakes import FakeSleep, ScriptedPlatform, answers
from tests.unit.connectors.tradedesk_fakes import CONFIG, TOKEN, FakeTradeDesk

LOGIN = "ttd-api-user@acme.example"
PASSWORD = "pa55/word+secret"
AUTHENTICATION = "POST /ttd/v3/authentication"
QUERY = "POST /ttd/v3/thirdpartydata/query"
ELEMENT = "POST /ttd/v3/thirdpartydata"
DAY_S = 1440 * 60
PARAMS = CreateSegmentParams(
    name="Auto", description="Car buyers", cpm=2.0, currency="USD", external_key="k1"
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


class LoginTradeDesk(FakeTradeDesk):
    """FakeTradeDesk whose tokens are minted from a login: tok-1, tok-2, ...; `expired` ones answer 401."""

    def __init__(self, *, login: str = LOGIN, password: str = PASSWORD) -> None:
        super().__init__()
        self.login, self.password = login, password
        self.issued: list[str] = []
        self.expired: set[str] = set()
        # Answered to every API call with a live token, when set.
        self.refusal: httpx.Response | None = None
        # A refused login's message quotes the Login and Password it was sent.
        self.quote_refused_login = False

    async def handle(self, request: httpx.Request) -> httpx.Response:  # type: ignore[override]
        if request.url.path == "/ttd/v3/authentication":
            await asyncio.sleep(0)  # concurrent callers interleave here, as over a network
            body = json.loads(request.content)
            if (body["Login"], body["Password"]) != (self.login, self.password):
                quoted = f": {body['Login']}/{body['Password']}" if self.quote_refused_login else ""
                return httpx.Response(401, json={"Message": f"Invalid login or password{quoted}"})
            self.issued.append(f"tok-{len(self.issued) + 1}")
            return httpx.Response(200, json={"Token": self.issued[-1]})
        sent = request.headers.get("TTD-Auth", "")
        if sent not in self.issued or sent in self.expired:
            return httpx.Response(401, json={"Message": "Invalid or expired token"})
        if self.refusal is not None:
            return self.refusal
        # The elements and rates behave as FakeTradeDesk's, which knows its one fixed token.
        headers = httpx.Headers(request.headers)
        headers["TTD-Auth"] = TOKEN
        forwarded = httpx.Request(request.method, request.url, headers=headers, content=request.content)
        return super().handle(forwarded)

    def tokens_sent(self) -> list[str]:
        return [
            r.headers["TTD-Auth"] for r in self.server.requests if not r.url.path.endswith("/authentication")
        ]


def login_client(
    ttd: LoginTradeDesk | ScriptedPlatform,
    sleep: FakeSleep,
    clock: FakeClock | None = None,
    password: str = PASSWORD,
) -> PlatformClient:
    server = ttd.server if isinstance(ttd, LoginTradeDesk) else ttd
    return create_platform_client(
        "tradedesk",
        "bearer",
        {"login": LOGIN, "password": password},
        CONFIG,
        settings=HttpSettings(),
        deps=ConnectorDeps(transport=server.transport, sleep=sleep, clock=clock or FakeClock()),
    )


async def test_login_mints_a_token_and_sends_it_as_ttd_auth(fake_sleep: FakeSleep) -> None:
    ttd = LoginTradeDesk()
    result = await login_client(ttd, fake_sleep).test_connection()

    assert result.success
    assert ttd.server.paths() == [AUTHENTICATION, QUERY]
    assert ttd.server.bodies("/authentication") == [
        {"Login": LOGIN, "Password": PASSWORD, "TokenExpirationInMinutes": 1440}
    ]
    assert ttd.tokens_sent() == ["tok-1"]


async def test_cached_token_is_reused_by_later_calls_and_clients(fake_sleep: FakeSleep) -> None:
    ttd = LoginTradeDesk()
    client = login_client(ttd, fake_sleep)
    await client.create_segment(PARAMS)
    await client.test_connection()
    await login_client(ttd, fake_sleep).test_connection()

    assert ttd.issued == ["tok-1"]
    assert set(ttd.tokens_sent()) == {"tok-1"}


async def test_token_is_renewed_shortly_before_its_minutes_run_out(fake_sleep: FakeSleep) -> None:
    ttd, clock = LoginTradeDesk(), FakeClock()
    client = login_client(ttd, fake_sleep, clock)
    await client.test_connection()
    clock.now += DAY_S - 120  # two minutes left: still sent
    await client.test_connection()
    clock.now += 90  # thirty seconds left: inside the 60 s margin
    await client.test_connection()

    assert ttd.tokens_sent() == ["tok-1", "tok-1", "tok-2"]
    assert ttd.server.paths().count(AUTHENTICATION) == 2


async def test_concurrent_calls_share_one_mint(fake_sleep: FakeSleep) -> None:
    ttd = LoginTradeDesk()
    client = login_client(ttd, fake_sleep)
    results = await asyncio.gather(*(client.test_connection() for _ in range(5)))

    assert all(result.success for result in results)
    assert ttd.issued == ["tok-1"]


async def test_expired_token_401_is_reminted_once_and_the_call_retried(fake_sleep: FakeSleep) -> None:
    ttd = LoginTradeDesk()
    client = login_client(ttd, fake_sleep)
    await client.test_connection()
    ttd.expired.add("tok-1")  # TTD ended it before our clock said so

    assert await client.create_segment(PARAMS) == "k1"
    assert ttd.server.paths()[2:5] == [ELEMENT, AUTHENTICATION, ELEMENT]
    assert ttd.issued == ["tok-1", "tok-2"]
    assert "k1" in ttd.elements


async def test_a_token_refused_again_after_the_remint_is_an_auth_error(fake_sleep: FakeSleep) -> None:
    ttd = LoginTradeDesk()
    client = login_client(ttd, fake_sleep)
    await client.test_connection()
    ttd.refusal = httpx.Response(401, json={"Message": "Invalid or expired token"})

    with pytest.raises(PlatformError) as caught:
        await client.create_segment(PARAMS)

    assert caught.value.error_class is ErrorClass.AUTH
    assert ttd.issued == ["tok-1", "tok-2"]  # one re-mint, no loop


async def test_wrong_login_is_an_auth_error_naming_no_secret(fake_sleep: FakeSleep) -> None:
    ttd = LoginTradeDesk()
    client = login_client(ttd, fake_sleep, password="wrong-pa55word")

    with pytest.raises(PlatformError) as caught:
        await client.create_segment(PARAMS)
    tested = await client.test_connection()

    assert caught.value.error_class is ErrorClass.AUTH
    assert caught.value.code == "auth:401"
    assert "login refused by /v3/authentication" in caught.value.message
    assert not tested.success
    for message in (caught.value.message, tested.error or ""):
        assert "wrong-pa55word" not in message
        assert LOGIN not in message
    assert ttd.elements == {}  # no element written without a token


async def test_a_403_from_the_login_endpoint_stays_a_credentials_failure(fake_sleep: FakeSleep) -> None:
    forbidding = ScriptedPlatform(answers(httpx.Response(403, json={"Message": "Access Denied."})))
    with pytest.raises(PlatformError) as caught:
        await login_client(forbidding, fake_sleep).create_segment(PARAMS)

    # TTD's 403 for an element is one item's failure; for the login it is the credentials'.
    assert caught.value.error_class is ErrorClass.AUTH


async def test_token_and_password_echoed_by_the_platform_are_scrubbed(fake_sleep: FakeSleep) -> None:
    ttd = LoginTradeDesk()
    client = login_client(ttd, fake_sleep)
    await client.test_connection()
    echo = f"cannot use token tok-1 of {LOGIN} (password {PASSWORD}, {json.dumps(PASSWORD)})"
    ttd.refusal = httpx.Response(400, json={"Message": echo})
    with capture_logs() as logs, pytest.raises(PlatformError) as api_error:
        await client.create_segment(PARAMS)

    ttd.expired.add("tok-1")
    ttd.password = "changed"  # the re-mint is refused, quoting the login and password sent
    ttd.quote_refused_login = True
    with capture_logs() as more_logs, pytest.raises(PlatformError) as login_error:
        await client.create_segment(PARAMS)

    for text in (api_error.value.message, login_error.value.message, repr([*logs, *more_logs])):
        for secret in ("tok-1", PASSWORD, json.dumps(PASSWORD)[1:-1], LOGIN):
            assert secret not in text
    assert "***" in api_error.value.message
    assert "***" in login_error.value.message


@pytest.mark.parametrize(
    ("credentials", "field"),
    [
        ({}, "credentials.api_key"),
        ({"api_key": "k", "login": LOGIN, "password": PASSWORD}, "credentials.api_key"),
        ({"login": LOGIN}, "credentials.password"),
        ({"password": PASSWORD}, "credentials.login"),
        ({"login": " ", "password": PASSWORD}, "credentials.login"),
        ({"login": LOGIN, "password": ""}, "credentials.password"),
    ],
)
def test_exactly_one_mode_is_checked_on_save_naming_the_field(
    credentials: dict[str, str], field: str
) -> None:
    with pytest.raises(ConnectorConfigError) as caught:
        validate_outbound_config("tradedesk", "bearer", credentials, CONFIG)

    assert caught.value.field_errors[0][0] == field
    assert PASSWORD not in str(caught.value)


def test_either_mode_alone_is_accepted() -> None:
    validate_outbound_config("tradedesk", "bearer", {"api_key": TOKEN}, CONFIG)
    validate_outbound_config("tradedesk", "bearer", {"login": LOGIN, "password": PASSWORD}, CONFIG)


async def test_against_the_mock_a_token_it_expired_is_reminted(fake_sleep: FakeSleep) -> None:
    mock_clock, client_clock = FakeClock(), FakeClock()
    state = MockState(clock=mock_clock)
    transport = httpx.ASGITransport(app=build_app(state))
    tenant = {"login": LOGIN, "password": PASSWORD, "provider_id": "acme"}
    async with httpx.AsyncClient(transport=transport, base_url="http://mock") as admin:
        await admin.post("/admin/tenants", json={"platform": "tradedesk", "credentials": tenant})
        client = create_platform_client(
            "tradedesk",
            "bearer",
            {"login": LOGIN, "password": PASSWORD},
            {**CONFIG, "api_base_url": "http://mock/ttd"},
            settings=HttpSettings(),
            deps=ConnectorDeps(transport=transport, sleep=fake_sleep, clock=client_clock),
        )
        assert await client.create_segment(PARAMS) == "k1"
        first = set(state.tradedesk.tokens)
        mock_clock.now += DAY_S  # the mock's day is over; the client's clock has not moved
        assert await client.create_segment(PARAMS.model_copy(update={"external_key": "k2"})) == "k2"
        wrong = create_platform_client(
            "tradedesk",
            "bearer",
            {"login": LOGIN, "password": "not-the-password"},
            {**CONFIG, "api_base_url": "http://mock/ttd"},
            settings=HttpSettings(),
            deps=ConnectorDeps(transport=transport, sleep=fake_sleep, clock=client_clock),
        )
        refused = await wrong.test_connection()
        held = (await admin.get("/admin/segments/tradedesk")).json()["segments"]

    assert len(state.tradedesk.tokens) == 2
    assert first < set(state.tradedesk.tokens)
    assert {segment["ProviderElementId"] for segment in held} == {"k1", "k2"}
    assert not refused.success
    assert "not-the-password" not in (refused.error or "")
    assert "login refused" in (refused.error or "")
