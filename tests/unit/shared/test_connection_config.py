"""What a connection's config becomes when it is saved: the keys sent, normalised, each fault named once."""

from __future__ import annotations

from typing import Any

import pytest

from shared.connections.config import check_connection
from shared.connectors.errors import ConnectorConfigError

OUTBOUND = {"api_base_url": "https://api.example.com/", "default_cpm": "2", "currency": "USD"}
INBOUND = {
    "base_url": "https://dmp.example.com/segments/",
    "field_mappings": [{"source": "name", "target": "topic_name"}],
    "source_id_field": "id",
}


def refused(direction: Any, config: dict[str, Any], credentials: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConnectorConfigError) as caught:
        check_connection("custom_api", direction, "api_key", credentials, config)
    return [field for field, _reason in caught.value.field_errors]


def test_the_stored_config_is_what_was_sent_normalised_without_defaults_added() -> None:
    stored = check_connection("custom_api", "bidirectional", "api_key", {"api_key": "k"}, OUTBOUND | INBOUND)
    assert stored == {
        **INBOUND,
        "api_base_url": "https://api.example.com",  # an API root: the trailing slash goes
        "default_cpm": 2.0,
        "currency": "USD",
    }
    assert stored["base_url"].endswith("/")  # a listing is requested as written


def test_a_key_both_directions_share_is_reported_once() -> None:
    assert refused("bidirectional", OUTBOUND | INBOUND | {"token_url": "/token"}) == ["config.token_url"]


def test_unchanged_credentials_are_not_checked_but_new_ones_are() -> None:
    assert check_connection("custom_api", "inbound", "bearer", None, INBOUND) == INBOUND
    assert refused("inbound", INBOUND, credentials={}) == ["credentials.api_key"]


def test_an_unknown_key_and_a_bad_value_are_reported_together() -> None:
    assert refused("outbound", OUTBOUND | {"default_cpm": -1, "rate_limt_rps": 5}) == [
        "config.rate_limt_rps",
        "config.default_cpm",
    ]
