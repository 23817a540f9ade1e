"""After everything else has run: no credential used by the session appears anywhere it could leak to.

Where: every log the session produced (each `*.log` under its temporary directory: the e2e system's,
the hostile-platform, chaos and outage worlds', ... and what pytest captured from every test), every
API response the tests received (tests/support/api_capture.py), every Kafka message of every topic
prefix the session used on its broker, and every error message, status reason and outbox row kept in
the session's database. What: the encryption keys, every API key (recognised by their `act_` shape),
and every connection credential: those still stored (decrypted here) and those the tests send.

One exception, by design: an upstream request on `activator.requests` authenticates with its org's
API key in the `x-activator-api-key` header (and its dead letter keeps the header so it can be
replayed); and the answer that issues a key (`POST /api/keys`, `.../rotate`) carries its secret once,
in its `secret` field. Every other header, field and body is checked, dead letters' originals decoded.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.messages import API_KEY_HEADER, DeadLetterMessage
from shared.settings import Settings
from tests.e2e.conftest import System
from tests.e2e.helpers import connection_body
from tests.e2e.test_outbox_kafka_outage import CONNECTION
from tests.integration.test_connections_api import SECRET
from tests.integration.test_credentials_key_rotation import CREDENTIALS as ROTATED
from tests.integration.test_credentials_key_rotation import NEW_KEY, OLD_KEY
from tests.support.api_capture import API_RESPONSES
from tests.support.infra import TEST_DEV_API_KEY, TOPIC_PREFIXES
from tests.support.log_capture import CAPTURED, LAST

pytestmark = [pytest.mark.e2e, pytest.mark.last]

API_KEY = re.compile(r"act_[A-Za-z0-9_-]{20,}")
MIN_SECRET_LENGTH = 6  # shorter values (e.g. "none") would match ordinary words

Texts = list[tuple[str, str]]

# By design the one answer carrying a key: a key's creation or rotation returns its secret once.
_KEY_ISSUED = re.compile(r"^POST /api/keys(/[^/ ]+/rotate)? 201$")
_ISSUED_SECRET = re.compile(r'"secret":\s*"act_[A-Za-z0-9_-]+"')


def _issued_secrets_removed(bodies: Texts) -> Texts:
    """The bodies with the one issued secret of each key-issuing answer blanked (any other key still counts)."""
    return [
        (name, _ISSUED_SECRET.sub('"secret":"(issued)"', text, count=1) if _KEY_ISSUED.match(name) else text)
        for name, text in bodies
    ]


async def _stored_credentials(pool: asyncpg.Pool[Any], settings: Settings) -> set[str]:
    rows = await pool.fetch(
        """SELECT pgp_sym_decrypt(auth_credentials_enc, $1) AS credentials
           FROM platform_connections WHERE auth_credentials_enc IS NOT NULL""",
        settings.credentials_encryption_key.get_secret_value(),
    )
    return {value for row in rows for value in json.loads(row["credentials"]).values()}


def _sent_credentials() -> set[str]:
    bodies = [
        connection_body(platform, "http://127.0.0.1:1", 1)
        for platform in ("custom_api", "tradedesk", "liveramp", "indexexchange")
    ]
    sent = [CONNECTION["authCredentials"], *ROTATED, *(body.get("authCredentials", {}) for body in bodies)]
    return {SECRET, OLD_KEY, NEW_KEY, *(value for credentials in sent for value in credentials.values())}


@pytest.fixture
async def secrets(pool: asyncpg.Pool[Any], settings: Settings) -> set[str]:
    """Every secret value the session used."""
    found = {
        settings.credentials_encryption_key.get_secret_value(),
        TEST_DEV_API_KEY,
        *await _stored_credentials(pool, settings),
        *_sent_credentials(),
    }
    return {secret for secret in found if isinstance(secret, str) and len(secret) >= MIN_SECRET_LENGTH}


def _leaks(texts: Iterable[tuple[str, str]], secrets: set[str]) -> list[str]:
    leaks: list[str] = []
    for name, text in texts:
        leaks += [f"{name}: credential {secret[:3]}…" for secret in secrets if secret in text]
        leaks += [f"{name}: API key {match.group()[:8]}…" for match in API_KEY.finditer(text)]
    return leaks


def _check_marked_last(request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker(LAST) is not None


async def test_no_credential_appears_in_any_log(
    request: pytest.FixtureRequest,
    system: System,
    secrets: set[str],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    _check_marked_last(request)
    logs = [
        (str(path), path.read_text(errors="replace"))
        for path in tmp_path_factory.getbasetemp().rglob("*.log")
        if path.is_file()
    ]
    logs += request.config.stash[CAPTURED].sections
    assert any(str(system.log_dir) in name for name, _text in logs), "the e2e services left no log to check"
    assert sum(len(text) for _name, text in logs) > 0
    assert _leaks(logs, secrets) == []


async def test_no_credential_appears_in_any_api_response(
    request: pytest.FixtureRequest, secrets: set[str]
) -> None:
    _check_marked_last(request)
    captured = request.config.stash[API_RESPONSES]
    if not captured.responses:
        pytest.skip("no API response in this session")
    print(f"scanned {len(captured.bodies)} distinct bodies of {captured.responses} API responses")
    assert _leaks(_issued_secrets_removed(captured.bodies), secrets) == []


def _readable(topic: str, key: bytes | None, headers: list[tuple[str, bytes]], value: bytes | None) -> str:
    """A message as text: key, headers and value, and for a dead letter the original it carries, decoded."""

    def text(raw: bytes | None) -> str:
        return (raw or b"").decode(errors="replace")

    # The one place an API key travels by design: the header authenticating an upstream request
    # (README "Requesting runs over Kafka"); a dead-lettered request keeps it for its replay.
    kept = [
        (name, raw) for name, raw in headers if not (topic.endswith(".requests") and name == API_KEY_HEADER)
    ]
    parts = [text(key), *(f"{name}={text(raw)}" for name, raw in kept), text(value)]
    if topic.endswith(".dlq"):
        letter = DeadLetterMessage.model_validate_json(value or b"")
        original = [(name, base64.b64decode(raw)) for name, raw in letter.original_headers_b64.items()]
        parts.append(
            _readable(letter.source_topic, None, original, base64.b64decode(letter.original_value_b64))
        )
    return "\n".join(parts)


async def _kafka_messages(bootstrap: str, prefix: str) -> Texts:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        topics = [topic for topic in await admin.list_topics() if topic.startswith(f"{prefix}.")]
        described = await admin.describe_topics(topics) if topics else []
    finally:
        await admin.close()
    partitions = [
        TopicPartition(topic["topic"], partition["partition"])
        for topic in described
        for partition in topic["partitions"]
    ]
    if not partitions:
        return []
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    messages: Texts = []
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        remaining = {tp for tp in partitions if ends[tp] > 0}
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=2000, max_records=5000)
            if not batches:
                break
            for tp, records in batches.items():
                for record in records:
                    text = _readable(tp.topic, record.key, list(record.headers), record.value)
                    messages.append((f"kafka {tp.topic}[{tp.partition}]@{record.offset}", text))
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
    return messages


async def test_no_credential_travels_through_kafka(
    request: pytest.FixtureRequest, settings: Settings, secrets: set[str]
) -> None:
    _check_marked_last(request)
    # Worlds with a broker of their own have stopped it (and removed its data) by now.
    prefixes = sorted(
        prefix for bootstrap, prefix in TOPIC_PREFIXES if bootstrap == settings.kafka_bootstrap_servers
    )
    assert settings.kafka_topic_prefix in prefixes
    messages: Texts = []
    for prefix in prefixes:
        messages += await _kafka_messages(settings.kafka_bootstrap_servers, prefix)
    print(f"scanned {len(messages)} Kafka messages under {len(prefixes)} topic prefixes")
    assert _leaks(messages, secrets) == []


async def test_no_credential_is_kept_in_an_error_message(
    request: pytest.FixtureRequest, pool: asyncpg.Pool[Any], secrets: set[str]
) -> None:
    _check_marked_last(request)
    rows = await pool.fetch(
        """SELECT 'run_errors ' || run_id AS name, message AS text FROM run_errors
           UNION ALL SELECT 'run_items ' || run_id, error_message FROM run_items WHERE error_message IS NOT NULL
           UNION ALL SELECT 'runs ' || id, coalesce(status_reason, '') || ' ' || request::text FROM runs
           UNION ALL SELECT 'sync_rejects ' || run_id, reason FROM sync_rejects
           UNION ALL SELECT 'outbox ' || id, payload::text || ' ' || headers::text FROM outbox"""
    )
    print(f"scanned {len(rows)} error messages, status reasons, run requests and outbox rows")
    assert _leaks([(row["name"], row["text"]) for row in rows], secrets) == []
