"""OAuth2 auth: form-encoded grants, one cached token per identity, one shared refresh on rejection."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs

import httpx
import pytest

from shared.connectors import ConnectorDeps, ErrorClass, HttpSettings, PlatformError, reset_token_cache
from shared.connectors.auth import OAuth2Auth
from shared.connectors.credentials import OAuth2Credentials
from shared.connectors.http import PlatformHttp
from tests.unit.connectors.connector_fakes import FakeSleep, ScriptedPlatform

TOKEN_URL = "https://auth.example/oauth2/token"
SECRET = "client-secret-9f8e7d6c"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class OAuthPlatform:
    """A token endpoint issuing tok-1, tok-2, ... and an API accepting only live tokens."""

    def __init__(self, *, expires_in: int = 3600) -> None:
        self.issued: list[str] = []
        self.token_forms: list[dict[str, list[str]]] = []
        self.revoked: set[str] = set()
        self.expires_in = expires_in
        self.token_status = 200
        self.server = ScriptedPlatform(self.handle)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        if str(request.url) == TOKEN_URL:
            await asyncio.sleep(0)  # let concurrent callers interleave, as a real network would
            self.token_forms.append(parse_qs(request.content.decode()))
            if self.token_status != 200:
                return httpx.Response(self.token_status, json={"error": "invalid_client"})
            token = f"tok-{len(self.issued) + 1}"
            self.issued.append(token)
            return httpx.Response(
                200, json={"access_token": token, "token_type": "Bearer", "expires_in": self.expires_in}
            )
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if bearer not in self.issued or bearer in self.revoked:
            return httpx.Response(401, json={"error": "invalid_token"})
        return httpx.Response(200, json={"token": bearer})

    def api_tokens(self) -> list[str]:
        return [
            r.headers["Authorization"].removeprefix("Bearer ")
            for r in self.server.requests
            if str(r.url) != TOKEN_URL
        ]


def client_credentials(secret: str = SECRET) -> OAuth2Credentials:
    return OAuth2Credentials.model_validate({"client_id": "activator", "client_secret": secret})


def http_with(
    platform: OAuthPlatform,
    sleep: FakeSleep,
    credentials: OAuth2Credentials | None = None,
    *,
    clock: FakeClock | None = None,
    scope: str | None = None,
) -> PlatformHttp:
    auth = OAuth2Auth(
        credentials or client_credentials(), token_url=TOKEN_URL, scope=scope, clock=clock or FakeClock()
    )
    return PlatformHttp(
        platform="test",
        base_url="https://api.example",
        settings=HttpSettings(),
        auth=auth,
        deps=ConnectorDeps(transport=platform.server.transport, sleep=sleep),
    )


async def test_client_credentials_grant_is_form_encoded(fake_sleep: FakeSleep) -> None:
    platform = OAuthPlatform()
    await http_with(platform, fake_sleep, scope="segments:write").request("GET", "/v1/ping")
    token_request = platform.server.requests[0]
    assert token_request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert platform.token_forms == [
        {
            "grant_type": ["client_credentials"],
            "client_id": ["activator"],
            "client_secret": [SECRET],
            "scope": ["segments:write"],
        }
    ]
    assert "Authorization" not in token_request.headers


async def test_password_grant_sends_username_password_and_optional_client_id(fake_sleep: FakeSleep) -> None:
    platform = OAuthPlatform()
    credentials = OAuth2Credentials.model_validate({"username": "ops@acme", "password": "pw-123456"})
    await http_with(platform, fake_sleep, credentials).request("GET", "/v1/ping")
    assert platform.token_forms == [
        {"grant_type": ["password"], "username": ["ops@acme"], "password": ["pw-123456"]}
    ]


async def test_token_is_cached_across_requests_and_clients(fake_sleep: FakeSleep) -> None:
    platform = OAuthPlatform()
    first, second = http_with(platform, fake_sleep), http_with(platform, fake_sleep)
    for _ in range(3):
        await first.request("GET", "/v1/ping")
    await second.request("GET", "/v1/ping")
    assert platform.issued == ["tok-1"]
    assert platform.api_tokens() == ["tok-1"] * 4


async def test_a_different_secret_for_the_same_client_does_not_reuse_the_token(fake_sleep: FakeSleep) -> None:
    platform = OAuthPlatform()
    await http_with(platform, fake_sleep).request("GET", "/v1/ping")
    await http_with(platform, fake_sleep, client_credentials("another-secret")).request("GET", "/v1/ping")
    assert platform.issued == ["tok-1", "tok-2"]


async def test_token_is_renewed_shortly_before_it_expires(fake_sleep: FakeSleep) -> None:
    platform = OAuthPlatform(expires_in=3600)
    clock = FakeClock()
    http = http_with(platform, fake_sleep, clock=clock)
    await http.request("GET", "/v1/ping")
    clock.now += 3500  # still more than a minute to live
    await http.request("GET", "/v1/ping")
    clock.now += 50  # inside the last minute of the token's life
    await http.request("GET", "/v1/ping")
    assert platform.issued == ["tok-1", "tok-2"]
    assert platform.api_tokens() == ["tok-1", "tok-1", "tok-2"]


async def test_rejected_token_is_refreshed_once_and_the_request_succeeds(fake_sleep: FakeSleep) -> None:
    platform = OAuthPlatform()
    http = http_with(platform, fake_sleep)
    await http.request("GET", "/v1/ping")
    platform.revoked.add("tok-1")
    body = await http.request_json("GET", "/v1/ping")
    assert body == {"token": "tok-2"}
    assert platform.issued == ["tok-1", "tok-2"]
    assert fake_sleep.calls == []


async def test_a_second_rejection_is_an_auth_error_without_refresh_loop(fake_sleep: FakeSleep) -> None:
    platform = OAuthPlatform()

    def always_401(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": "invalid_token"})

    real = platform.handle

    async def handler(request: httpx.Request) -> httpx.Response:
        return await real(request) if str(request.url) == TOKEN_URL else always_401(request)

    platform.server = ScriptedPlatform(handler)
    with pytest.raises(PlatformError) as caught:
        await http_with(platform, fake_sleep).request("GET", "/v1/ping")
    assert caught.value.error_class is ErrorClass.AUTH
    assert caught.value.message == "HTTP 401: invalid_token"
    assert platform.issued == ["tok-1", "tok-2"]
    assert fake_sleep.calls == []


async def test_concurrent_first_callers_share_one_token_request(fake_sleep: FakeSleep) -> None:
    platform = OAuthPlatform()
    http = http_with(platform, fake_sleep)
    await asyncio.gather(*(http.request("GET", f"/v1/ping/{n}") for n in range(8)))
    assert platform.issued == ["tok-1"]


async def test_concurrent_rejected_callers_share_one_refresh(fake_sleep: FakeSleep) -> None:
    platform = OAuthPlatform()
    http = http_with(platform, fake_sleep)
    await http.request("GET", "/v1/ping")
    platform.revoked.add("tok-1")
    results = await asyncio.gather(*(http.request_json("GET", f"/v1/ping/{n}") for n in range(8)))
    assert platform.issued == ["tok-1", "tok-2"]
    assert all(result == {"token": "tok-2"} for result in results)


async def test_reset_token_cache_forces_a_new_token(fake_sleep: FakeSleep) -> None:
    platform = OAuthPlatform()
    await http_with(platform, fake_sleep).request("GET", "/v1/ping")
    reset_token_cache()
    await http_with(platform, fake_sleep).request("GET", "/v1/ping")
    assert platform.issued == ["tok-1", "tok-2"]


async def test_bad_client_is_an_auth_error_that_hides_the_secret(fake_sleep: FakeSleep) -> None:
    platform = OAuthPlatform()
    platform.token_status = 401
    with pytest.raises(PlatformError) as caught:
        await http_with(platform, fake_sleep).request("GET", "/v1/ping")
    assert caught.value.error_class is ErrorClass.AUTH
    assert caught.value.message == "HTTP 401: invalid_client"
    assert len(platform.token_forms) == 1
    assert SECRET not in caught.value.message


async def test_token_endpoint_outage_is_retried_with_backoff(fake_sleep: FakeSleep) -> None:
    platform = OAuthPlatform()
    platform.token_status = 503
    http = http_with(platform, fake_sleep)
    with pytest.raises(PlatformError) as caught:
        await http.request("GET", "/v1/ping")
    assert caught.value.error_class is ErrorClass.RETRYABLE
    assert len(platform.token_forms) == 3
    assert fake_sleep.calls == [1.0, 2.0]


async def test_rejected_password_grant_is_an_auth_error(fake_sleep: FakeSleep) -> None:
    def handler(_request: httpx.Request) -> httpx.Response:
        body = {"error": "invalid_grant", "error_description": "the resource owner credentials are invalid"}
        return httpx.Response(400, json=body)

    platform = OAuthPlatform()
    platform.server = ScriptedPlatform(handler)
    credentials = OAuth2Credentials.model_validate({"username": "ops", "password": "not-the-password"})
    with pytest.raises(PlatformError) as caught:
        await http_with(platform, fake_sleep, credentials).request("GET", "/v1/ping")
    assert caught.value.error_class is ErrorClass.AUTH
    assert caught.value.message == "HTTP 400: the resource owner credentials are invalid"
    assert len(platform.server.requests) == 1
