"""Turns one activator.requests message into a run (the same path as the HTTP API) or a rejection."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog
from prometheus_client import Counter
from pydantic import ValidationError

from shared.db import outbox
from shared.db.orgs import KeyScope, grant_for_api_key
from shared.db.pool import DbConnection, PgPool
from shared.db.runs import Run
from shared.messages import (
    API_KEY_HEADER,
    RUN_REQUEST,
    PushRequest,
    RejectionCode,
    RequestAccepted,
    RequestRejected,
    RunMode,
    deterministic_event_id,
)
from shared.runs.start import PushSpec, RunRefused, SyncSpec, start_run
from shared.settings import Settings

log = structlog.get_logger(__name__)

INTAKE_REQUESTS = Counter(
    "activator_intake_requests_total", "Run requests read from activator.requests, by outcome", ["outcome"]
)
MAX_REASON_CHARS = 1000


@dataclass(frozen=True, slots=True)
class IncomingRequest:
    """One record of activator.requests: where it was, its key, its headers and its body."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, bytes] = field(default_factory=dict)


class AnswerPublisher(Protocol):
    async def publish(self, answer: RequestAccepted | RequestRejected, key: str) -> None:
        """Send the answer to activator.status and return once the broker acknowledged it."""
        ...


@dataclass(frozen=True, slots=True)
class IntakeDependencies:
    pool: PgPool
    settings: Settings
    answers: AnswerPublisher
    stopping: asyncio.Event = field(default_factory=asyncio.Event)  # set when the intake shuts down


@dataclass(frozen=True, slots=True)
class _Claims:
    """What can be read from a body even when it is not a valid request (to address the rejection)."""

    idempotency_key: str | None = None
    request_event_id: uuid.UUID | None = None
    connection_id: uuid.UUID | None = None


def _claims(value: bytes) -> _Claims:
    try:
        body: Any = json.loads(value)
    except ValueError:
        return _Claims()
    if not isinstance(body, dict):
        return _Claims()

    def as_uuid(raw: object) -> uuid.UUID | None:
        try:
            return uuid.UUID(str(raw)) if raw is not None else None
        except ValueError:
            return None

    key = body.get("idempotency_key")
    return _Claims(
        idempotency_key=key if isinstance(key, str) and 0 < len(key) <= 255 else None,
        request_event_id=as_uuid(body.get("event_id")),
        connection_id=as_uuid(body.get("connection_id")),
    )


def _invalid_reason(error: ValidationError) -> str:
    # Field locations and messages only: the input values are left out.
    parts = [
        f"{'.'.join(str(part) for part in item['loc']) or 'body'}: {item['msg']}"
        for item in error.errors(include_input=False, include_url=False)
    ]
    return ("invalid request: " + "; ".join(parts))[:MAX_REASON_CHARS]


async def _authenticate(incoming: IncomingRequest, deps: IntakeDependencies) -> uuid.UUID | str:
    """The org of the request's API key, or why it is refused."""
    api_key = incoming.headers.get(API_KEY_HEADER, b"").decode(errors="replace").strip()
    if not api_key:
        return f"the {API_KEY_HEADER} header is missing"
    grant = await grant_for_api_key(deps.pool, api_key)
    if grant is None:
        return "the API key is unknown or revoked"
    if grant.scope != KeyScope.ADMIN:  # every request here starts a run
        return f"the API key has scope {grant.scope.value!r}; starting a run needs scope 'admin'"
    org_id = grant.org_id
    if incoming.key and incoming.key.decode(errors="replace") != str(org_id):
        return "the message key is not the org id of the API key"
    return org_id


async def handle_request(
    incoming: IncomingRequest, deps: IntakeDependencies
) -> RequestAccepted | RequestRejected:
    """Create the requested run as POST .../push/run or .../sync/run would, or publish why not."""
    claims = _claims(incoming.value)
    request_event_id = claims.request_event_id
    if request_event_id is None:  # a redelivery of the same record gets the same rejection id
        request_event_id = deterministic_event_id("request", incoming.partition, incoming.offset)

    async def reject(code: RejectionCode, reason: str, org_id: uuid.UUID | None = None) -> RequestRejected:
        rejection = RequestRejected(
            event_id=deterministic_event_id("request-rejected", request_event_id),
            org_id=org_id,
            idempotency_key=claims.idempotency_key,
            request_event_id=request_event_id,
            connection_id=claims.connection_id,
            code=code,
            reason=reason[:MAX_REASON_CHARS],
        )
        address = incoming.key.decode(errors="replace") if incoming.key else str(request_event_id)
        await deps.answers.publish(rejection, address)
        INTAKE_REQUESTS.labels(f"rejected_{code.value}").inc()
        log.info(
            "request_rejected",
            code=code.value,
            reason=rejection.reason,
            org_id=str(org_id) if org_id else None,
            idempotency_key=claims.idempotency_key,
            partition=incoming.partition,
            offset=incoming.offset,
        )
        return rejection

    org = await _authenticate(incoming, deps)
    if isinstance(org, str):
        return await reject(RejectionCode.UNAUTHORIZED, org)
    try:
        request = RUN_REQUEST.validate_json(incoming.value)
    except ValidationError as exc:
        return await reject(RejectionCode.INVALID, _invalid_reason(exc), org)
    kind = "push" if isinstance(request, PushRequest) else "sync"

    def accepted(run: Run, *, duplicate: bool) -> RequestAccepted:
        return RequestAccepted(
            event_id=deterministic_event_id("request-accepted", run.id, request.event_id),
            run_id=run.id,
            org_id=run.org_id,
            connection_id=run.connection_id,
            kind=kind,
            idempotency_key=request.idempotency_key,
            request_event_id=request.event_id,
            duplicate=duplicate,
        )

    async def announce(connection: DbConnection, run: Run) -> None:
        # Through the outbox, with the run: the answer goes out if and only if the run was committed.
        await outbox.enqueue(
            connection,
            topic=deps.settings.topic("status"),
            key=str(run.id),
            payload=accepted(run, duplicate=False).model_dump(mode="json"),
        )

    spec = (
        PushSpec(topic_ids=request.topic_ids, dry_run=request.dry_run, mode=RunMode.AUTO)
        if isinstance(request, PushRequest)
        else SyncSpec(mode=RunMode.AUTO)
    )
    try:
        started = await start_run(
            deps.pool,
            deps.settings,
            org_id=org,
            connection_id=request.connection_id,
            spec=spec,
            idempotency_key=request.idempotency_key,
            on_created=announce,
        )
    except RunRefused as refused:
        return await reject(refused.code, refused.detail, org)
    answer = accepted(started.run, duplicate=not started.created)
    if started.created:
        INTAKE_REQUESTS.labels("accepted").inc()
    else:
        # A repeat (or a redelivery) hears about the run again; the run itself is not touched.
        await deps.answers.publish(answer, str(started.run.id))
        INTAKE_REQUESTS.labels("duplicate").inc()
    log.info(
        "request_accepted",
        run_id=str(started.run.id),
        org_id=str(org),
        connection_id=str(request.connection_id),
        kind=kind,
        idempotency_key=request.idempotency_key,
        duplicate=answer.duplicate,
        partition=incoming.partition,
        offset=incoming.offset,
    )
    return answer
