"""/api/dead-letters: the caller's org's messages on the dead-letter topic, and replaying one of them.

The topic holds every org's dead letters. A letter is the org's whose API key is in the original message's
`x-activator-api-key` header (a request from upstream; the key's org even if since revoked), else whose
`org_id` the original JSON body names (the workers' commands and events). A letter with neither (an
unparseable body) belongs to no org and is shown to nobody here: `activator dlq list` shows it.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Awaitable
from typing import Annotated, TypeVar

from aiokafka.errors import KafkaError
from fastapi import APIRouter, Query

from services.gateway.deps import AppSettings, OrgId, Pool
from services.gateway.problems import Problem, not_found
from services.gateway.schemas import DeadLetterOut, DeadLetterPage, DeadLetterReplayed
from shared.db.orgs import orgs_of_api_keys
from shared.db.pool import PgPool
from shared.messages import API_KEY_HEADER
from shared.messaging.dlq import REPLAYED_HEADER, DeadLetter, read_dead_letters, replay

router = APIRouter(prefix="/api/dead-letters", tags=["dead letters"])

SCAN_LIMIT = 10_000
"""The most dead letters (of every org) one request reads from the topic, oldest first."""
KAFKA_TIMEOUT_S = 30.0
BODY_CHARS = 4_000
_REDACTED = "(redacted)"
_SECRET_HEADER = re.compile(r"key|authorization|token|secret|password", re.IGNORECASE)
_LETTER_ID = re.compile(r"^(\d+)-(\d+)$")
_T = TypeVar("_T")


def _letter_id(letter: DeadLetter) -> str:
    return f"{letter.partition}-{letter.offset}"


def _header(letter: DeadLetter, name: str) -> str | None:
    for header, value in letter.headers:
        if header == name:
            return value.decode("utf-8", "replace")
    return None


def _body_org(letter: DeadLetter) -> uuid.UUID | None:
    try:
        body = json.loads(letter.value)
        return uuid.UUID(str(body["org_id"])) if isinstance(body, dict) and body.get("org_id") else None
    except (ValueError, UnicodeDecodeError):
        return None


async def _letters_of(pool: PgPool, org_id: uuid.UUID, letters: list[DeadLetter]) -> list[DeadLetter]:
    keys = {key for letter in letters if (key := _header(letter, API_KEY_HEADER))}
    key_orgs = await orgs_of_api_keys(pool, keys) if keys else {}

    def owner(letter: DeadLetter) -> uuid.UUID | None:
        key = _header(letter, API_KEY_HEADER)
        return key_orgs.get(key) if key else _body_org(letter)

    return [letter for letter in letters if owner(letter) == org_id]


def _out(letter: DeadLetter) -> DeadLetterOut:
    headers = {
        name: _REDACTED if _SECRET_HEADER.search(name) else value.decode("utf-8", "replace")
        for name, value in letter.headers
    }
    replay_of = _header(letter, REPLAYED_HEADER)
    return DeadLetterOut(
        id=_letter_id(letter),
        partition=letter.partition,
        offset=letter.offset,
        source_topic=letter.source_topic,
        error_type=letter.error_type,
        error=letter.error,
        attempts=letter.attempts,
        failed_at=letter.failed_at,  # ISO text; pydantic reads it as a datetime
        headers=headers,
        body=letter.value.decode("utf-8", "replace")[:BODY_CHARS],
        replay_of=replay_of.replace(":", "-") if replay_of else None,
    )


async def _kafka(work: Awaitable[_T]) -> _T:
    try:
        async with asyncio.timeout(KAFKA_TIMEOUT_S):
            return await work
    except (KafkaError, TimeoutError) as exc:
        raise Problem(
            503,
            "Kafka unavailable",
            "Kafka did not answer in time (reading the dead letters or replaying one); try again",
        ) from exc


@router.get("")
async def list_dead_letters(
    org_id: OrgId,
    pool: Pool,
    settings: AppSettings,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> DeadLetterPage:
    """The org's dead letters, newest first, with their error, attempts, headers and original body."""
    letters = await _kafka(read_dead_letters(settings, SCAN_LIMIT))
    mine = await _letters_of(pool, org_id, letters)
    mine.sort(key=lambda letter: (letter.failed_at, letter.partition, letter.offset), reverse=True)
    return DeadLetterPage(
        items=[_out(letter) for letter in mine[:limit]],
        scanned=len(letters),
        truncated=len(letters) >= SCAN_LIMIT,
    )


@router.post("/{letter_id}/replay", status_code=202)
async def replay_dead_letter(
    letter_id: str, org_id: OrgId, pool: Pool, settings: AppSettings
) -> DeadLetterReplayed:
    """Publish the original message again, with its key and headers, to the topic it failed on (consumers
    are idempotent). The letter stays on the topic; if it fails again a new one names it in `replayOf`."""
    if not _LETTER_ID.match(letter_id):
        raise not_found("dead letter")
    letters = await _kafka(read_dead_letters(settings, SCAN_LIMIT))
    found = [letter for letter in await _letters_of(pool, org_id, letters) if _letter_id(letter) == letter_id]
    if not found:
        raise not_found("dead letter")
    await _kafka(replay(settings, found))
    return DeadLetterReplayed(id=letter_id, topic=found[0].source_topic)
