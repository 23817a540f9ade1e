"""The worked example of docs/adding-a-platform.md: Acme DSP through the factory against a fake, and the doc in step."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, get_args

import httpx
import pytest

from services.gateway.schemas import Platform
from shared.connectors import (
    PLATFORMS,
    ConnectionTestResult,
    ConnectorConfigError,
    ConnectorDeps,
    CreateSegmentParams,
    ErrorClass,
    HttpSettings,
    PlatformClient,
    PlatformError,
    PlatformSegment,
    UnknownPlatformError,
    UpdateSegmentParams,
    create_platform_client,
)
from shared.connectors.factory import client_from_entry
from tests.unit.connectors import example_acme_dsp
from tests.unit.connectors.connector_fakes import FakeSleep, ScriptedPlatform

ROOT = Path(__file__).parents[3]
DOC = ROOT / "docs" / "adding-a-platform.md"
TOKEN = "acme-token-4f9c2e7d1b"
CONFIG = {
    "api_base_url": "https://api.acme-dsp.test",
    "default_cpm": 2.0,
    "currency": "USD",
    "account_id": "acct-42",
}
PARAMS = CreateSegmentParams(
    name="Auto > SUV",
    description="SUV intenders",
    cpm=2.5,
    currency="USD",
    external_key="conn1:topic42",
)


class FakeAcme:
    """Acme DSP as its wire section describes it, in memory; queued `faults` answer first."""

    def __init__(self) -> None:
        self.audiences: dict[str, dict[str, Any]] = {}
        self.faults: list[httpx.Response | httpx.TransportError] = []
        self.platform = ScriptedPlatform(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        if self.faults:
            fault = self.faults.pop(0)
            if isinstance(fault, httpx.TransportError):
                raise fault
            return fault
        authorization = request.headers.get("Authorization", "")
        if authorization != f"Bearer {TOKEN}" or request.headers.get("Acme-Account") != "acct-42":
            # Like many real APIs, the fake echoes what it refused; the client must not pass that on.
            return httpx.Response(401, json={"message": f"credentials {authorization!r} refused"})
        match (request.method, request.url.path.split("/")[2:]):
            case ("GET", ["ping"]):
                return httpx.Response(200, json={"ok": True})
            case ("POST", ["audiences"]):
                return self._create(json.loads(request.content))
            case (method, ["audiences", audience_id, *action]) if audience_id in self.audiences:
                return self._change(method, self.audiences[audience_id], action, request)
            case _:
                return httpx.Response(404, json={"message": "no such audience"})

    def _create(self, body: dict[str, Any]) -> httpx.Response:
        if not body["name"]:
            return httpx.Response(400, json={"message": "name must not be empty"})
        for audience in self.audiences.values():
            if audience["external_ref"] == body["external_ref"]:
                return httpx.Response(200, json={"audience_id": audience["audience_id"]})
        audience_id = f"aud-{len(self.audiences) + 1}"
        self.audiences[audience_id] = {**body, "audience_id": audience_id, "state": "live"}
        return httpx.Response(201, json={"audience_id": audience_id})

    @staticmethod
    def _change(
        method: str, audience: dict[str, Any], action: list[str], request: httpx.Request
    ) -> httpx.Response:
        if (method, action) == ("PATCH", []):
            audience.update(json.loads(request.content))
        elif (method, action) == ("POST", ["archive"]):
            audience["state"] = "archived"
        elif (method, action) != ("GET", []):
            return httpx.Response(405, json={"message": "method not allowed"})
        return httpx.Response(200, json=audience)


@pytest.fixture
def acme() -> FakeAcme:
    return FakeAcme()


def client_for(acme: FakeAcme, sleep: FakeSleep, credentials: dict[str, Any] | None = None) -> PlatformClient:
    # The factory's own path, with the entry in hand instead of looked up by name in PLATFORMS.
    return client_from_entry(
        example_acme_dsp.PLATFORM,
        "bearer",
        {"api_key": TOKEN} if credentials is None else credentials,
        CONFIG,
        settings=HttpSettings(),
        deps=ConnectorDeps(transport=acme.platform.transport, sleep=sleep),
    )


def config_error(credentials: Any, config: dict[str, Any], auth_type: str = "bearer") -> ConnectorConfigError:
    with pytest.raises(ConnectorConfigError) as caught:
        client_from_entry(example_acme_dsp.PLATFORM, auth_type, credentials, config, settings=HttpSettings())
    return caught.value


def test_the_example_is_not_a_shipped_platform() -> None:
    assert "acme_dsp" not in PLATFORMS
    with pytest.raises(UnknownPlatformError):
        create_platform_client("acme_dsp", "bearer", {"api_key": TOKEN}, CONFIG, settings=HttpSettings())


def test_every_registered_platform_is_a_platform_type_of_the_api() -> None:
    # Step 4 of the doc: a platform in PLATFORMS but not in the API's Literal could never be chosen.
    assert sorted(get_args(Platform)) == sorted(PLATFORMS)


async def test_five_operations_round_trip(acme: FakeAcme, fake_sleep: FakeSleep) -> None:
    client = client_for(acme, fake_sleep)
    assert await client.test_connection() == ConnectionTestResult(success=True)
    audience_id = await client.create_segment(PARAMS)
    assert audience_id == "aud-1"
    assert await client.create_segment(PARAMS) == audience_id  # same external_ref, no second audience
    await client.update_segment(audience_id, UpdateSegmentParams(name="Auto > SUV 2", description="d"))
    assert await client.get_segment(audience_id) == PlatformSegment(
        id=audience_id, name="Auto > SUV 2", status="active"
    )
    await client.deactivate_segment(audience_id)
    assert await client.get_segment(audience_id) == PlatformSegment(
        id=audience_id, name="Auto > SUV 2", status="inactive"
    )
    assert await client.get_segment("aud-404") is None
    await client.aclose()
    assert acme.platform.paths() == [
        "GET /v1/ping",
        "POST /v1/audiences",
        "POST /v1/audiences",
        "PATCH /v1/audiences/aud-1",
        "GET /v1/audiences/aud-1",
        "POST /v1/audiences/aud-1/archive",
        "GET /v1/audiences/aud-1",
        "GET /v1/audiences/aud-404",
    ]
    assert {r.headers["Acme-Account"] for r in acme.platform.requests} == {"acct-42"}
    assert fake_sleep.calls == []


async def test_create_and_update_send_acmes_fields(acme: FakeAcme, fake_sleep: FakeSleep) -> None:
    client = client_for(acme, fake_sleep)
    audience_id = await client.create_segment(PARAMS)
    await client.update_segment(audience_id, UpdateSegmentParams(name="N", description="D", cpm=3.0))
    await client.update_segment(audience_id, UpdateSegmentParams(name="N", description="D"))
    assert acme.platform.bodies("/v1/audiences") == [
        {
            "name": "Auto > SUV",
            "description": "SUV intenders",
            "cpm": 2.5,
            "currency": "USD",
            "external_ref": "conn1:topic42",
        }
    ]
    assert acme.platform.bodies(f"/{audience_id}") == [
        {"name": "N", "description": "D", "cpm": 3.0},
        {"name": "N", "description": "D"},
    ]


@pytest.mark.parametrize(
    ("faults", "waits"),
    [
        ([httpx.Response(429, headers={"Retry-After": "7"})], [7.0]),
        ([httpx.Response(429)], [1.0]),
        ([httpx.Response(500), httpx.Response(503)], [1.0, 2.0]),
        ([httpx.ReadTimeout("slow"), httpx.Response(502)], [1.0, 2.0]),
    ],
)
async def test_rate_limits_server_errors_and_timeouts_are_retried(
    acme: FakeAcme,
    fake_sleep: FakeSleep,
    faults: list[httpx.Response | httpx.TransportError],
    waits: list[float],
) -> None:
    acme.faults = list(faults)
    assert await client_for(acme, fake_sleep).create_segment(PARAMS) == "aud-1"
    assert fake_sleep.calls == waits
    assert len(acme.audiences) == 1


async def test_retries_stop_after_three_attempts(acme: FakeAcme, fake_sleep: FakeSleep) -> None:
    acme.faults = [httpx.Response(503, json={"message": "maintenance"}) for _ in range(3)]
    with pytest.raises(PlatformError) as caught:
        await client_for(acme, fake_sleep).create_segment(PARAMS)
    assert (caught.value.error_class, caught.value.message) == (ErrorClass.RETRYABLE, "HTTP 503: maintenance")
    assert len(acme.platform.requests) == 3
    assert fake_sleep.calls == [1.0, 2.0]


async def test_a_rejected_create_is_permanent_and_not_retried(acme: FakeAcme, fake_sleep: FakeSleep) -> None:
    with pytest.raises(PlatformError) as caught:
        await client_for(acme, fake_sleep).create_segment(PARAMS.model_copy(update={"name": ""}))
    assert caught.value.code == "permanent:400"
    assert caught.value.message == "HTTP 400: name must not be empty"
    assert len(acme.platform.requests) == 1
    assert fake_sleep.calls == []


async def test_changing_an_unknown_audience_is_permanent_and_not_retried(
    acme: FakeAcme, fake_sleep: FakeSleep
) -> None:
    client = client_for(acme, fake_sleep)
    for change in (
        client.update_segment("aud-404", UpdateSegmentParams(name="N", description="")),
        client.deactivate_segment("aud-404"),
    ):
        with pytest.raises(PlatformError) as caught:
            await change
        assert caught.value.code == "permanent:404"
    assert acme.platform.paths() == ["PATCH /v1/audiences/aud-404", "POST /v1/audiences/aud-404/archive"]
    assert fake_sleep.calls == []


async def test_refused_token_fails_the_connection_test_without_showing_it(
    acme: FakeAcme, fake_sleep: FakeSleep
) -> None:
    wrong = "wrong-token-0a1b2c3d"
    result = await client_for(acme, fake_sleep, {"api_key": wrong}).test_connection()
    assert result.success is False
    assert result.error == "HTTP 401: credentials '***' refused"
    assert len(acme.platform.requests) == 1  # a static token is not worth a second try


@pytest.mark.parametrize(
    ("credentials", "field", "reason"),
    [
        ({}, "credentials.api_key", "Field required"),
        ({"token": TOKEN}, "credentials.api_key", "Field required"),
        ({"api_key": "   "}, "credentials.api_key", "must not be empty"),
        ({"api_key": [TOKEN]}, "credentials.api_key", "Input should be a valid string"),
        (TOKEN, "credentials", "Input should be a valid dictionary or instance of ApiKeyCredentials"),
    ],
)
def test_bad_credentials_name_the_field_not_the_secret(credentials: Any, field: str, reason: str) -> None:
    error = config_error(credentials, CONFIG)
    assert error.field_errors == ((field, reason),)
    assert TOKEN not in f"{error} {error!r}"


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({key: value for key, value in CONFIG.items() if key != "account_id"}, "config.account_id"),
        ({**CONFIG, "account_id": ""}, "config.account_id"),
        ({**CONFIG, "api_base_url": "ftp://acme"}, "config.api_base_url"),
        ({**CONFIG, "currency": "usd"}, "config.currency"),
    ],
)
def test_bad_config_names_the_field(config: dict[str, Any], field: str) -> None:
    assert [name for name, _reason in config_error({"api_key": TOKEN}, config).field_errors] == [field]


def test_an_auth_type_acme_does_not_take_is_refused() -> None:
    error = config_error({"api_key": TOKEN}, CONFIG, auth_type="api_key")
    assert str(error) == "auth_type: acme_dsp does not support 'api_key' (supported: bearer)"


def _excerpts() -> list[tuple[str, str]]:
    text = DOC.read_text()
    return re.findall(r"<!-- excerpt: (\S+) -->\n```python\n(.*?)```", text, flags=re.DOTALL)


def test_the_doc_shows_the_example_code_as_it_is() -> None:
    excerpts = _excerpts()
    for path, code in excerpts:
        assert code in (ROOT / path).read_text(), f"docs/adding-a-platform.md: excerpt of {path} is stale"
    shown = "".join(code for path, code in excerpts if path.endswith("example_acme_dsp.py"))
    source = Path(example_acme_dsp.__file__).read_text()
    for definition in re.findall(r"^(?:class|def) \w+", source, flags=re.MULTILINE):
        assert definition in shown, f"docs/adding-a-platform.md does not show {definition}"


def test_the_files_the_doc_names_exist() -> None:
    named = re.findall(r"`((?:shared|services|tests|docs)/[^`<>{}*\s]+)`", DOC.read_text())
    assert named
    assert [path for path in named if not (ROOT / path).exists()] == []
