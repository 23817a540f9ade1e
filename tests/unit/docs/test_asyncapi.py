"""The committed AsyncAPI document is the one the code generates (regenerate: `make asyncapi`)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

from services.asyncapi import asyncapi_document, render
from shared.messaging.kafka import TOPIC_NAMES

COMMITTED = Path(__file__).parents[3] / "docs" / "asyncapi.json"


def _generated() -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return render(asyncapi_document())


def test_committed_document_matches_the_code() -> None:
    assert COMMITTED.read_text() == _generated(), "docs/asyncapi.json is stale: run `make asyncapi`"


def test_every_command_and_status_topic_is_documented_with_its_payload() -> None:
    document = json.loads(_generated())
    addresses = {channel["address"] for channel in document["channels"].values()}
    for name in ("push.commands", "sync.commands", "status", "dlq"):
        assert f"activator.{name}" in addresses
    assert {f"activator.{name}" for name in TOPIC_NAMES} >= addresses
    schemas = document["components"]["schemas"]
    assert {"PushCommand", "SyncCommand", "ItemResult", "RunFinished", "DeadLetterMessage"} <= set(schemas)
    assert "run_id" in schemas["PushCommand"]["properties"]
