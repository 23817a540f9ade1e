"""The HTTP layer every client shares: retries, backoff, Retry-After, timeouts, error classes, scrubbing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from shared.connectors import ConnectorDeps, ErrorClass, HttpSettings, PlatformError
from shared.connectors.auth import StaticHeaderAuth
from shared.connectors.failures import scrub
from shared.connectors.http import PlatformHttp
from tests.unit.connectors.connector_fakes import FakeSleep, ScriptedPlatform, answers

API_KEY = "sk-live-0123456789abcdef"


def http_for(platform: ScriptedPlatform, sleep: FakeSleep, **settings: float) -> PlatformHttp:
    return PlatformHttp(
        platform="test",
        base_url="https://platform.example/api",
        settings=HttpSettings(**settings),
        auth=StaticHeaderAuth({"X-API-Key": API_KEY}),
        deps=ConnectorDeps(transport=platform.transport, sleep=sleep),
    )


def status(code: int, body: object = None, **headers: str) -> httpx.Response:
    return httpx.Response(
        code, json=body if body is not None else {"message": f"status {code}"}, headers=headers
    )


async def test_success_needs_one_request_and_no_wait(fake_sleep: FakeSleep) -> None:
    platform = ScriptedPlatform(answers(status(200, {"ok": True})))
    body = await http_for(platform, fake_sleep).request_json("GET", "/things")
    assert body == {"ok": True}
    assert platform.paths() == ["GET /api/things"]
    assert platform.requests[0].headers["X-API-Key"] == API_KEY
    assert fake_sleep.calls == []


@pytest.mark.parametrize("code", [429, 500, 502, 503, 504])
async def test_transient_status_is_retried_with_backoff_1_then_2_seconds(
    fake_sleep: FakeSleep, code: int
) -> None:
    platform = ScriptedPlatform(answers(status(code), status(code), status(200, {"id": "x"})))
    body = await http_for(platform, fake_sleep).request_json("POST", "/segments", json={"name": "n"})
    assert body == {"id": "x"}
    assert len(platform.requests) == 3
    assert fake_sleep.calls == [1.0, 2.0]


async def test_gives_up_after_three_attempts_with_the_last_error(fake_sleep: FakeSleep) -> None:
    platform = ScriptedPlatform(answers(status(503, {"message": "maintenance"})))
    with pytest.raises(PlatformError) as caught:
        await http_for(platform, fake_sleep).request("GET", "/things")
    assert len(platform.requests) == 3
    assert fake_sleep.calls == [1.0, 2.0]
    assert caught.value.error_class is ErrorClass.RETRYABLE
    assert caught.value.status_code == 503
    assert caught.value.message == "HTTP 503: maintenance"
    assert caught.value.code == "retryable:503"
    assert caught.value.attempts == 3


async def test_attempts_count_every_call_up_to_the_error_not_retried(fake_sleep: FakeSleep) -> None:
    platform = ScriptedPlatform(answers(status(503), status(400, {"message": "bad name"})))
    with pytest.raises(PlatformError) as caught:
        await http_for(platform, fake_sleep).request("POST", "/segments")
    assert (caught.value.status_code, caught.value.attempts) == (400, 2)


async def test_attempts_and_backoff_follow_settings(fake_sleep: FakeSleep) -> None:
    platform = ScriptedPlatform(answers(status(500)))
    with pytest.raises(PlatformError):
        await http_for(platform, fake_sleep, max_attempts=4, backoff_base_s=0.5).request("GET", "/x")
    assert len(platform.requests) == 4
    assert fake_sleep.calls == [0.5, 1.0, 2.0]


@pytest.mark.parametrize(
    ("code", "error_class"),
    [
        (400, ErrorClass.PERMANENT),
        (404, ErrorClass.PERMANENT),
        (409, ErrorClass.PERMANENT),
        (422, ErrorClass.PERMANENT),
        (401, ErrorClass.AUTH),
        (403, ErrorClass.AUTH),
        (302, ErrorClass.UNKNOWN),
    ],
)
async def test_other_statuses_are_not_retried_and_are_classified(
    fake_sleep: FakeSleep, code: int, error_class: ErrorClass
) -> None:
    platform = ScriptedPlatform(answers(status(code), status(200)))
    with pytest.raises(PlatformError) as caught:
        await http_for(platform, fake_sleep).request("GET", "/things")
    assert len(platform.requests) == 1
    assert fake_sleep.calls == []
    assert caught.value.error_class is error_class
    assert caught.value.status_code == code


async def test_retry_after_seconds_is_honoured(fake_sleep: FakeSleep) -> None:
    platform = ScriptedPlatform(answers(status(429, **{"Retry-After": "7"}), status(200)))
    await http_for(platform, fake_sleep).request("GET", "/things")
    assert fake_sleep.calls == [7.0]


async def test_retry_after_http_date_is_honoured(fake_sleep: FakeSleep) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    platform = ScriptedPlatform(answers(status(503, **{"Retry-After": when}), status(200)))
    await http_for(platform, fake_sleep).request("GET", "/things")
    assert len(fake_sleep.calls) == 1
    assert 17.0 <= fake_sleep.calls[0] <= 20.0


async def test_retry_after_in_the_past_means_retry_now(fake_sleep: FakeSleep) -> None:
    when = format_datetime(datetime.now(UTC) - timedelta(minutes=5), usegmt=True)
    platform = ScriptedPlatform(answers(status(429, **{"Retry-After": when}), status(200)))
    await http_for(platform, fake_sleep).request("GET", "/things")
    assert fake_sleep.calls == [0.0]


async def test_retry_after_is_capped(fake_sleep: FakeSleep) -> None:
    platform = ScriptedPlatform(answers(status(429, **{"Retry-After": "3600"}), status(200)))
    await http_for(platform, fake_sleep).request("GET", "/things")
    assert fake_sleep.calls == [60.0]


async def test_cap_is_a_setting_and_final_error_keeps_the_platform_retry_after(fake_sleep: FakeSleep) -> None:
    platform = ScriptedPlatform(answers(status(429, **{"Retry-After": "90"})))
    with pytest.raises(PlatformError) as caught:
        await http_for(platform, fake_sleep, retry_after_cap_s=5).request("GET", "/things")
    assert fake_sleep.calls == [5.0, 5.0]
    assert caught.value.error_class is ErrorClass.RATE_LIMITED
    assert caught.value.retry_after == 90.0


async def test_unparsable_retry_after_falls_back_to_backoff(fake_sleep: FakeSleep) -> None:
    platform = ScriptedPlatform(answers(status(429, **{"Retry-After": "soon"}), status(200)))
    await http_for(platform, fake_sleep).request("GET", "/things")
    assert fake_sleep.calls == [1.0]


@pytest.mark.parametrize(
    "failure",
    [httpx.ReadTimeout("read timed out"), httpx.ConnectTimeout("connect timed out")],
)
async def test_timeouts_are_retried_then_reported_as_retryable(
    fake_sleep: FakeSleep, failure: Exception
) -> None:
    def handler(_request: httpx.Request) -> httpx.Response:
        raise failure

    platform = ScriptedPlatform(handler)
    with pytest.raises(PlatformError) as caught:
        await http_for(platform, fake_sleep).request("GET", "/things")
    assert len(platform.requests) == 3
    assert fake_sleep.calls == [1.0, 2.0]
    assert caught.value.error_class is ErrorClass.RETRYABLE
    assert "timed out after 30 s" in caught.value.message


async def test_a_slow_platform_is_cut_off_at_the_timeout_setting(fake_sleep: FakeSleep) -> None:
    async def handler(_request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return status(200)

    platform = ScriptedPlatform(handler)
    started = asyncio.get_running_loop().time()
    with pytest.raises(PlatformError) as caught:
        await http_for(platform, fake_sleep, timeout_s=0.05, max_attempts=2).request("GET", "/slow")
    assert asyncio.get_running_loop().time() - started < 2
    assert len(platform.requests) == 2
    assert caught.value.error_class is ErrorClass.RETRYABLE
    assert "timed out" in caught.value.message


async def test_network_errors_are_retried_then_retryable(fake_sleep: FakeSleep) -> None:
    calls = 0

    def handler(_request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise httpx.ConnectError("connection refused")
        return status(200, {"ok": True})

    platform = ScriptedPlatform(handler)
    assert await http_for(platform, fake_sleep).request_json("GET", "/x") == {"ok": True}
    assert fake_sleep.calls == [1.0]


async def test_malformed_success_body_is_permanent(fake_sleep: FakeSleep) -> None:
    platform = ScriptedPlatform(answers(httpx.Response(200, text="<html>not json</html>")))
    with pytest.raises(PlatformError) as caught:
        await http_for(platform, fake_sleep).request_json("GET", "/x")
    assert caught.value.error_class is ErrorClass.PERMANENT
    assert "malformed" in caught.value.message
    assert len(platform.requests) == 1


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"error": "invalid_request", "message": "name too long"}, "HTTP 400: name too long"),
        ({"Message": "ProviderElementId already exists"}, "HTTP 400: ProviderElementId already exists"),
        ({"error": "invalid_grant", "error_description": "bad password"}, "HTTP 400: bad password"),
        ({"error": {"message": "nested reason"}}, "HTTP 400: nested reason"),
        ({"errors": [{"message": "a"}, {"message": "b"}]}, "HTTP 400: a; b"),
    ],
)
async def test_platform_message_is_taken_from_json(
    fake_sleep: FakeSleep, body: object, expected: str
) -> None:
    platform = ScriptedPlatform(answers(httpx.Response(400, json=body)))
    with pytest.raises(PlatformError) as caught:
        await http_for(platform, fake_sleep).request("GET", "/x")
    assert caught.value.message == expected


async def test_html_error_page_is_reduced_to_its_text(fake_sleep: FakeSleep) -> None:
    page = (
        "<html><head><title>502 Bad Gateway</title><style>p{color:red}</style></head>"
        "<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"
    )
    platform = ScriptedPlatform(
        answers(httpx.Response(502, text=page, headers={"Content-Type": "text/html"}))
    )
    with pytest.raises(PlatformError) as caught:
        await http_for(platform, fake_sleep, max_attempts=1).request("GET", "/x")
    assert caught.value.message == "HTTP 502: 502 Bad Gateway nginx"


async def test_long_messages_are_trimmed(fake_sleep: FakeSleep) -> None:
    platform = ScriptedPlatform(answers(httpx.Response(400, json={"message": "x" * 5000})))
    with pytest.raises(PlatformError) as caught:
        await http_for(platform, fake_sleep).request("GET", "/x")
    assert 250 <= len(caught.value.message) <= 300


async def test_a_credential_echoed_by_the_platform_never_reaches_the_error(fake_sleep: FakeSleep) -> None:
    body = {"message": f"key {API_KEY} is not valid for this account"}
    platform = ScriptedPlatform(answers(httpx.Response(401, json=body)))
    with pytest.raises(PlatformError) as caught:
        await http_for(platform, fake_sleep).request("GET", "/x")
    assert API_KEY not in caught.value.message
    assert API_KEY not in str(caught.value)
    assert caught.value.message == "HTTP 401: key *** is not valid for this account"


async def test_one_pool_serves_every_request_of_a_connection(fake_sleep: FakeSleep) -> None:
    platform = ScriptedPlatform(answers(status(200)))
    http = http_for(platform, fake_sleep)
    await asyncio.gather(*(http.request("GET", f"/x/{n}") for n in range(10)))
    await http.aclose()
    assert len(platform.requests) == 10


def test_short_secrets_are_scrubbed_only_where_they_stand_alone() -> None:
    assert scrub("sftp: password p rejected", ["p"]) == "sftp: password *** rejected"
    assert scrub("token=abcdefghij; again abcdefghij", ["abcdefghij"]) == "token=***; again ***"


async def test_egress_guard_is_asked_once_per_origin(fake_sleep: FakeSleep) -> None:
    asked: list[str] = []

    async def guard(url: str) -> None:
        asked.append(url)

    platform = ScriptedPlatform(answers(status(200)))
    http = PlatformHttp(
        platform="test",
        base_url="https://platform.example/api",
        settings=HttpSettings(),
        deps=ConnectorDeps(transport=platform.transport, sleep=fake_sleep, url_guard=guard),
    )
    for _ in range(3):
        await http.request("GET", "/things")
    assert asked == ["https://platform.example:443"]
    assert len(platform.requests) == 3


async def test_egress_guard_refusal_is_permanent_and_sends_nothing(fake_sleep: FakeSleep) -> None:
    async def guard(url: str) -> None:
        raise ValueError("10.0.0.7 is a private, loopback or link-local address")

    platform = ScriptedPlatform(answers(status(200)))
    http = PlatformHttp(
        platform="test",
        base_url="http://internal.example:8080",
        settings=HttpSettings(),
        deps=ConnectorDeps(transport=platform.transport, sleep=fake_sleep, url_guard=guard),
    )
    with pytest.raises(PlatformError) as caught:
        await http.request("GET", "/things")
    assert caught.value.error_class is ErrorClass.PERMANENT
    assert caught.value.message == "egress refused: 10.0.0.7 is a private, loopback or link-local address"
    assert platform.requests == []
    assert fake_sleep.calls == []
