"""The dead-letter topic through the gateway, on real Kafka: each org sees its own letters and replays them."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from shared.db.orgs import KeyScope, add_api_key, create_org, new_api_key
from shared.messages import API_KEY_HEADER, DeadLetterMessage, PushCommand
from shared.messaging.dlq import REPLAYED_HEADER
from shared.messaging.kafka_security import client_options
from shared.settings import Settings

pytestmark = pytest.mark.integration


def _letter(source_topic: str, value: bytes, headers: dict[str, bytes], offset: int) -> bytes:
    letter = DeadLetterMessage(
        source_topic=source_topic,
        partition=0,
        offset=offset,
        error_type="PermanentError",
        error=f"failed for good #{offset}",
        attempts=3,
        failed_at=datetime.now(UTC),
        original_headers_b64={name: base64.b64encode(raw).decode() for name, raw in headers.items()},
        original_value_b64=base64.b64encode(value).decode(),
    )
    return json.dumps(letter.model_dump(mode="json")).encode()


def _command(org_id: uuid.UUID) -> bytes:
    command = PushCommand(run_id=uuid.uuid4(), org_id=org_id, connection_id=uuid.uuid4())
    return command.model_dump_json().encode()


class Letters:
    def __init__(self, source_topic: str, mine: str, mine_key: str, read_key: str, other_key: str) -> None:
        self.source_topic = source_topic
        self.mine = mine
        self.mine_key = mine_key
        self.read_key = read_key
        self.other_key = other_key


@pytest.fixture
async def letters(settings: Settings, pool: asyncpg.Pool[Any]) -> Letters:
    """Two orgs' dead letters (by body org_id and by request API key) and one of no org, on the DLQ."""
    mine_id, mine_key = await create_org(pool, f"dlq-{secrets.token_hex(3)}")
    read_key = new_api_key()
    await add_api_key(pool, mine_id, read_key, scope=KeyScope.READ)
    other_id, other_key = await create_org(pool, f"dlq-other-{secrets.token_hex(3)}")
    # A requests topic of its own: the one kind of message that carries its org's API key by design.
    source = settings.topic(f"dlq-source-{secrets.token_hex(3)}.requests")
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:  # the broker creates no topic on first use; a replay goes to a topic that exists
        await admin.create_topics([NewTopic(name=source, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()
    marker = secrets.token_hex(4)
    producer = AIOKafkaProducer(**client_options(settings), acks="all")
    await producer.start()
    try:
        for offset, (value, headers) in enumerate(
            [
                (_command(mine_id), {"traceparent": b"00-abc-def-01"}),
                (_command(other_id), {}),
                (b"not json " + marker.encode(), {}),
                (
                    b'{"type": "push_request", "marker": "' + marker.encode() + b'"}',
                    {API_KEY_HEADER: mine_key.encode()},
                ),
            ]
        ):
            await producer.send_and_wait(settings.topic("dlq"), _letter(source, value, headers, offset))
    finally:
        await producer.stop()
    return Letters(source, marker, mine_key, read_key, other_key)


async def _list(gateway_url: str, api_key: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=gateway_url, timeout=60) as http:
        response = await http.get("/api/dead-letters", headers={"Authorization": f"Bearer {api_key}"})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _of_source(page: dict[str, Any], source: str) -> dict[int, dict[str, Any]]:
    """The page's letters from `source`, by the number the fixture put in their error."""
    return {
        int(item["error"].rsplit("#", 1)[1]): item for item in page["items"] if item["sourceTopic"] == source
    }


async def test_each_org_sees_only_its_dead_letters_with_credentials_redacted(
    gateway_url: str, letters: Letters
) -> None:
    by_offset = _of_source(await _list(gateway_url, letters.read_key), letters.source_topic)
    assert sorted(by_offset) == [0, 3]  # by body org_id, and by the request's key
    assert by_offset[0]["headers"] == {"traceparent": "00-abc-def-01"}
    assert by_offset[0]["errorType"] == "PermanentError"
    assert by_offset[0]["attempts"] == 3
    assert by_offset[3]["headers"] == {API_KEY_HEADER: "(redacted)"}
    assert letters.mine in by_offset[3]["body"]
    assert letters.mine_key not in json.dumps(by_offset)
    assert by_offset[0]["id"] == f"{by_offset[0]['partition']}-{by_offset[0]['offset']}"

    other = _of_source(await _list(gateway_url, letters.other_key), letters.source_topic)
    assert sorted(other) == [1]
    # The unparseable one (offset 2) belongs to no org: nobody sees it through the API.


async def test_replay_publishes_the_original_again_and_only_for_its_org(
    gateway_url: str, settings: Settings, letters: Letters
) -> None:
    mine = _of_source(await _list(gateway_url, letters.mine_key), letters.source_topic)
    letter_id = mine[0]["id"]
    async with httpx.AsyncClient(base_url=gateway_url, timeout=60) as http:
        refused = await http.post(
            f"/api/dead-letters/{letter_id}/replay", headers={"Authorization": f"Bearer {letters.other_key}"}
        )
        assert refused.status_code == 404
        read_only = await http.post(
            f"/api/dead-letters/{letter_id}/replay", headers={"Authorization": f"Bearer {letters.read_key}"}
        )
        assert read_only.status_code == 403
        replayed = await http.post(
            f"/api/dead-letters/{letter_id}/replay", headers={"Authorization": f"Bearer {letters.mine_key}"}
        )
        assert replayed.status_code == 202, replayed.text
        assert replayed.json() == {"id": letter_id, "topic": letters.source_topic}
    consumer = AIOKafkaConsumer(**client_options(settings), enable_auto_commit=False)
    await consumer.start()
    try:
        partition = TopicPartition(letters.source_topic, 0)
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        record = await asyncio.wait_for(consumer.getone(), timeout=30)
    finally:
        await consumer.stop()
    assert json.loads(record.value)["type"] == "push"
    headers = dict(record.headers)
    assert headers["traceparent"] == b"00-abc-def-01"
    assert headers[REPLAYED_HEADER] == letter_id.replace("-", ":").encode()
