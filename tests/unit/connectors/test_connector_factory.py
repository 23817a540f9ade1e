"""Factory and config validation: clear errors naming the field, never a secret."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from shared.connectors import (
    ConnectorConfigError,
    ConnectorDeps,
    CreateSegmentParams,
    HttpSettings,
    UnknownPlatformError,
    config_model,
    create_platform_client,
    validate_outbound_config,
)
from tests.unit.connectors.connector_fakes import FakeSleep, ScriptedPlatform, answers

SECRET = "s3cr3t-value-that-must-not-leak"
CUSTOM = {"api_base_url": "http://127.0.0.1:8090/custom", "default_cpm": 1.5, "currency": "USD"}
TTD = {"provider_id": "acme", "brand_id": "b1", "partner_id": "p1", "default_cpm": 2.0, "currency": "USD"}
LIVERAMP = {
    "api_base_url": "http://127.0.0.1:8090/liveramp",
    "token_url": "http://127.0.0.1:8090/liveramp/oauth2/token",
    "org_id": "org-1",
    "default_cpm": 1.0,
    "currency": "EUR",
    "activation_segment_id": "fp-1",
    "segment_type": "SYNDICATED",
    "permitted_use_cases": ["DIGITAL_AD_TARGETING"],
}
IX = {"sftp_host": "127.0.0.1", "sftp_port": 8022, "remote_dir": "/in", "default_cpm": 1.0, "currency": "USD"}


def config_error(
    platform: str, auth_type: str, credentials: Any, config: dict[str, Any]
) -> ConnectorConfigError:
    with pytest.raises(ConnectorConfigError) as caught:
        create_platform_client(platform, auth_type, credentials, config, settings=HttpSettings())
    return caught.value


def test_unknown_platform_is_named_with_the_supported_ones() -> None:
    error = config_error("myspace", "bearer", {"api_key": SECRET}, CUSTOM)
    assert isinstance(error, UnknownPlatformError)
    assert "'myspace'" in str(error)
    assert "custom_api, indexexchange, liveramp, tradedesk" in str(error)


def test_auth_type_the_platform_does_not_take_is_refused() -> None:
    error = config_error("tradedesk", "oauth2", {"client_id": "a", "client_secret": SECRET}, TTD)
    assert error.field_errors[0][0] == "auth_type"
    assert "tradedesk does not support 'oauth2'" in str(error)


@pytest.mark.parametrize(
    ("platform", "auth_type", "credentials", "config", "field"),
    [
        (
            "tradedesk",
            "bearer",
            {"api_key": SECRET},
            {"default_cpm": 1, "currency": "USD"},
            "config.provider_id",
        ),
        ("tradedesk", "bearer", {}, TTD, "credentials.api_key"),
        ("tradedesk", "bearer", {"api_key": "   "}, TTD, "credentials.api_key"),
        ("custom_api", "api_key", {"api_key": SECRET}, {**CUSTOM, "currency": "usd"}, "config.currency"),
        ("custom_api", "api_key", {"api_key": SECRET}, {**CUSTOM, "default_cpm": -1}, "config.default_cpm"),
        (
            "custom_api",
            "api_key",
            {"api_key": SECRET},
            {**CUSTOM, "api_base_url": "ftp://x"},
            "config.api_base_url",
        ),
        (
            "custom_api",
            "api_key",
            {"api_key": SECRET},
            {**CUSTOM, "segments_path": "seg"},
            "config.segments_path",
        ),
        ("custom_api", "oauth2", {"client_id": "c", "client_secret": SECRET}, CUSTOM, "config.token_url"),
        (
            "liveramp",
            "oauth2",
            {"client_id": "c", "client_secret": SECRET},
            {**LIVERAMP, "org_id": ""},
            "config.org_id",
        ),
        (
            "indexexchange",
            "header",
            {"username": "u", "password": SECRET},
            {**IX, "sftp_port": 0},
            "config.sftp_port",
        ),
        ("indexexchange", "header", {"username": "u"}, IX, "credentials.password"),
    ],
)
def test_invalid_field_is_named(
    platform: str, auth_type: str, credentials: dict[str, Any], config: dict[str, Any], field: str
) -> None:
    error = config_error(platform, auth_type, credentials, config)
    assert field in [name for name, _reason in error.field_errors]
    assert str(error).startswith(field)


@pytest.mark.parametrize(
    ("auth_type", "credentials", "named"),
    [
        ("oauth2", {"client_id": "c"}, "client_secret is required"),
        ("oauth2", {"client_secret": SECRET}, "client_id is required"),
        ("oauth2", {"password": SECRET}, "username is required"),
        ("header", {"Bad Header": SECRET}, "'Bad Header' is not a valid header name"),
        ("header", {"X-Token": f"{SECRET}\r\nX-Evil: 1"}, "'X-Token' contains a line break"),
        ("api_key", {"api_key": [SECRET]}, "credentials.api_key"),
        ("api_key", {"api_key": {"nested": SECRET}}, "credentials.api_key"),
        ("bearer", SECRET, "credentials"),
    ],
)
def test_credential_errors_explain_without_the_secret(auth_type: str, credentials: Any, named: str) -> None:
    config = {**CUSTOM, "token_url": "https://auth.example/token"}
    error = config_error("custom_api", auth_type, credentials, config)
    assert named in str(error)
    assert SECRET not in str(error)
    assert SECRET not in repr(error)
    assert error.__context__ is None
    assert error.__cause__ is None


def test_ix_host_key_must_be_an_openssh_public_key() -> None:
    error = config_error(
        "indexexchange", "header", {"username": "u", "password": SECRET}, {**IX, "host_key": "nope"}
    )
    assert error.field_errors == (("config.host_key", "must be an OpenSSH public key line"),)


def test_validate_outbound_config_applies_defaults_and_ignores_other_keys() -> None:
    config = validate_outbound_config(
        "custom_api", "api_key", None, {**CUSTOM, "base_url": "http://dmp", "field_mappings": []}
    )
    assert config.model_dump() == {
        **CUSTOM,
        "output_template_key": None,
        "segments_path": "/segments",
        "health_path": "/health",
        "api_key_header": "X-API-Key",
        "token_url": None,
        "scope": None,
        "rate_limit_rps": None,
        "max_concurrency": None,
        "data_source_location": "",
    }
    ttd = validate_outbound_config("tradedesk", "bearer", {"api_key": SECRET}, TTD)
    assert ttd.model_dump()["api_base_url"] == "https://api.thetradedesk.com"


def test_validate_outbound_config_checks_credentials_when_given() -> None:
    with pytest.raises(ConnectorConfigError) as caught:
        validate_outbound_config("liveramp", "oauth2", {"client_id": "x"}, LIVERAMP)
    assert "client_secret is required" in str(caught.value)


def test_every_platform_exposes_its_config_model() -> None:
    for platform in ("custom_api", "tradedesk", "liveramp", "indexexchange"):
        assert "default_cpm" in config_model(platform).model_json_schema()["properties"]


@pytest.mark.parametrize(
    ("auth_type", "credentials", "expected_header", "expected_value"),
    [
        ("api_key", {"api_key": SECRET}, "X-Custom-Key", SECRET),
        ("bearer", {"api_key": SECRET}, "Authorization", f"Bearer {SECRET}"),
        ("header", {"X-Tenant": "acme", "X-Token": SECRET}, "X-Token", SECRET),
        ("none", None, "Authorization", None),
    ],
)
async def test_built_client_authenticates_as_configured(
    fake_sleep: FakeSleep,
    auth_type: str,
    credentials: dict[str, str] | None,
    expected_header: str,
    expected_value: str | None,
) -> None:
    platform = ScriptedPlatform(answers(httpx.Response(201, json={"id": "seg-1"})))
    client = create_platform_client(
        "custom_api",
        auth_type,
        credentials,
        {**CUSTOM, "api_key_header": "X-Custom-Key"},
        settings=HttpSettings(),
        deps=ConnectorDeps(transport=platform.transport, sleep=fake_sleep),
    )
    params = CreateSegmentParams(name="n", description="d", cpm=1, currency="USD", external_key="k")
    assert await client.create_segment(params) == "seg-1"
    await client.aclose()
    assert platform.requests[0].headers.get(expected_header) == expected_value
