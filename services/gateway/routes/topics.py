"""/api/topics: the org's taxonomy, with cursor pagination and a set-based bulk upsert."""

from __future__ import annotations

import uuid

import asyncpg
from fastapi import APIRouter, Query, Response

from services.gateway.deps import AppSettings, OrgId, Pool
from services.gateway.json_body import OnePassJsonRoute
from services.gateway.problems import Problem, not_found
from services.gateway.schemas import (
    BulkTopicsInput,
    BulkTopicsOut,
    RenderedSegmentOut,
    TopicInput,
    TopicOut,
    TopicPage,
)
from shared.db import topics as repo
from shared.db.output_templates import render_lock, render_topics
from shared.db.pool import PgPool

router = APIRouter(prefix="/api/topics", tags=["topics"])


def _outputs(topic: repo.Topic) -> dict[str, RenderedSegmentOut]:
    outputs = {
        key: RenderedSegmentOut(name=output["name"], description=output["description"])
        for key, output in sorted(topic.platform_outputs.items())
        if isinstance(output, dict) and {"name", "description"} <= output.keys()
    }
    builtin = (
        ("tradedesk", topic.tradedesk_name, topic.tradedesk_description),
        ("liveramp", topic.liveramp_name, topic.liveramp_description),
    )
    for key, name, description in builtin:
        if name is not None:
            outputs[key] = RenderedSegmentOut(name=name, description=description or "")
    return outputs


def _out(topic: repo.Topic) -> TopicOut:
    out = TopicOut.model_validate(topic, from_attributes=True)
    return out.model_copy(update={"outputs": _outputs(topic)})


def _duplicate_external_id() -> Problem:
    return Problem(409, "Conflict", "Another topic of this org already has this externalId")


async def _reread(pool: PgPool, org_id: uuid.UUID, topic_id: uuid.UUID) -> TopicOut:
    """The topic as stored after its write, rendered names included."""
    topic = await repo.get_topic(pool, org_id, topic_id)
    if topic is None:
        raise not_found("topic")
    return _out(topic)


def _parse_cursor(cursor: str | None) -> uuid.UUID | None:
    if cursor is None:
        return None
    try:
        return uuid.UUID(cursor)
    except ValueError as exc:
        raise Problem(
            422,
            "Validation failed",
            "cursor is not valid",
            errors=[{"field": "cursor", "message": "not a cursor"}],
        ) from exc


@router.get("")
async def list_topics(
    org_id: OrgId,
    pool: Pool,
    limit: int = Query(default=100, ge=1, le=1000),
    cursor: str | None = None,
    include_deleted: bool = Query(default=False, alias="includeDeleted"),
) -> TopicPage:
    """A page of topics; pass `nextCursor` back as `cursor` for the next one."""
    topics = await repo.list_topics(
        pool, org_id, limit=limit + 1, after=_parse_cursor(cursor), include_deleted=include_deleted
    )
    page, more = topics[:limit], len(topics) > limit
    return TopicPage(items=[_out(topic) for topic in page], next_cursor=str(page[-1].id) if more else None)


@router.post("", status_code=201)
async def create_topic(body: TopicInput, org_id: OrgId, pool: Pool, settings: AppSettings) -> TopicOut:
    """Create one topic."""
    try:
        async with render_lock(pool, org_id, exclusive=False) as connection:
            topic = await repo.create_topic(connection, org_id, body)
            await render_topics(connection, org_id, [topic.id], batch=settings.output_render_batch)
    except asyncpg.UniqueViolationError as exc:
        raise _duplicate_external_id() from exc
    return await _reread(pool, org_id, topic.id)


async def bulk_upsert(
    body: BulkTopicsInput, org_id: OrgId, pool: Pool, settings: AppSettings
) -> BulkTopicsOut:
    """Create or update up to 10,000 topics in one transaction, keyed by `externalId` when given."""
    async with pool.acquire() as connection, connection.transaction():
        # The validated inputs go to the import as they are: each is a topic to write (ImportedTopic).
        counts = await repo.import_topics(
            connection, org_id, body.topics, render_batch=settings.output_render_batch
        )
    return BulkTopicsOut(created=counts.created, updated=counts.updated)


# Bodies of up to 10,000 topics: parsed and validated in one pass by pydantic (services/gateway/json_body.py).
router.add_api_route("/bulk", bulk_upsert, methods=["POST"], route_class_override=OnePassJsonRoute)


@router.get("/{topic_id}")
async def get_topic(topic_id: uuid.UUID, org_id: OrgId, pool: Pool) -> TopicOut:
    """One topic."""
    topic = await repo.get_topic(pool, org_id, topic_id)
    if topic is None:
        raise not_found("topic")
    return _out(topic)


@router.put("/{topic_id}")
async def update_topic(
    topic_id: uuid.UUID, body: TopicInput, org_id: OrgId, pool: Pool, settings: AppSettings
) -> TopicOut:
    """Replace a topic's fields; its names from the active output templates are rendered again."""
    try:
        async with render_lock(pool, org_id, exclusive=False) as connection:
            topic = await repo.update_topic(connection, org_id, topic_id, body)
            if topic is None:
                raise not_found("topic")
            await render_topics(connection, org_id, [topic.id], batch=settings.output_render_batch)
    except asyncpg.UniqueViolationError as exc:
        raise _duplicate_external_id() from exc
    return await _reread(pool, org_id, topic_id)


@router.delete("/{topic_id}", status_code=204)
async def delete_topic(topic_id: uuid.UUID, org_id: OrgId, pool: Pool) -> Response:
    """Mark a topic deleted; the next push deactivates its segments."""
    if not await repo.soft_delete_topic(pool, org_id, topic_id):
        raise not_found("topic")
    return Response(status_code=204)
