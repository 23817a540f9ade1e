"""/api/topics: the org's taxonomy, with cursor pagination and a set-based bulk upsert."""

from __future__ import annotations

import uuid

import asyncpg
from fastapi import APIRouter, Query, Response

from services.gateway.deps import OrgId, Pool
from services.gateway.problems import Problem, not_found
from services.gateway.schemas import BulkTopicsInput, BulkTopicsOut, TopicInput, TopicOut, TopicPage
from shared.db import topics as repo

router = APIRouter(prefix="/api/topics", tags=["topics"])


def _fields(body: TopicInput) -> repo.TopicFields:
    return repo.TopicFields(
        name=body.name,
        parent_category=body.parent_category,
        path=body.path,
        description=body.description,
        external_id=body.external_id,
        cpm=body.cpm,
        attributes=body.attributes,
    )


def _out(topic: repo.Topic) -> TopicOut:
    return TopicOut.model_validate(topic, from_attributes=True)


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
async def create_topic(body: TopicInput, org_id: OrgId, pool: Pool) -> TopicOut:
    """Create one topic."""
    try:
        return _out(await repo.create_topic(pool, org_id, _fields(body)))
    except asyncpg.UniqueViolationError as exc:
        raise Problem(409, "Conflict", "A topic with this externalId already exists") from exc


@router.post("/bulk")
async def bulk_upsert(body: BulkTopicsInput, org_id: OrgId, pool: Pool) -> BulkTopicsOut:
    """Create or update up to 10,000 topics in one statement, keyed by `externalId` when given."""
    created, updated = await repo.bulk_upsert_topics(pool, org_id, [_fields(topic) for topic in body.topics])
    return BulkTopicsOut(created=created, updated=updated)


@router.get("/{topic_id}")
async def get_topic(topic_id: uuid.UUID, org_id: OrgId, pool: Pool) -> TopicOut:
    """One topic."""
    topic = await repo.get_topic(pool, org_id, topic_id)
    if topic is None:
        raise not_found("topic")
    return _out(topic)


@router.put("/{topic_id}")
async def update_topic(topic_id: uuid.UUID, body: TopicInput, org_id: OrgId, pool: Pool) -> TopicOut:
    """Replace a topic's fields."""
    topic = await repo.update_topic(pool, org_id, topic_id, _fields(body))
    if topic is None:
        raise not_found("topic")
    return _out(topic)


@router.delete("/{topic_id}", status_code=204)
async def delete_topic(topic_id: uuid.UUID, org_id: OrgId, pool: Pool) -> Response:
    """Mark a topic deleted; the next push deactivates its segments."""
    if not await repo.soft_delete_topic(pool, org_id, topic_id):
        raise not_found("topic")
    return Response(status_code=204)
