"""/api/output-templates: how the org's topics are named and described on each platform."""

from __future__ import annotations

import uuid
from decimal import Decimal

from fastapi import APIRouter, Response

from services.gateway.deps import READ_SCOPE_OPERATION, AppSettings, OrgId, Pool
from services.gateway.problems import Problem, not_found
from services.gateway.schemas import (
    OutputTemplateInput,
    OutputTemplateOut,
    OutputTemplateUpdate,
    PreviewItemOut,
    TemplatePreviewInput,
    TemplatePreviewOut,
    TemplateRenderOut,
)
from shared.db import output_templates as repo
from shared.db import rendered_names
from shared.db.pool import PgPool
from shared.output_templates import RenderedSegment, render
from shared.settings import Settings

router = APIRouter(prefix="/api/output-templates", tags=["output templates"])

CPM_SCALE = Decimal("0.0001")


def _out(stored: repo.StoredTemplate) -> OutputTemplateOut:
    return OutputTemplateOut.model_validate(stored, from_attributes=True)


def _fields(body: OutputTemplateUpdate) -> repo.TemplateFields:
    return repo.TemplateFields(
        path_fields=body.path_fields,
        separator=body.separator,
        name_template=body.name_template,
        description_template=body.description_template,
    )


@router.get("")
async def list_templates(org_id: OrgId, pool: Pool) -> list[OutputTemplateOut]:
    """The org's output templates, by key."""
    return [_out(stored) for stored in await repo.list_templates(pool, org_id)]


@router.post("", status_code=201)
async def create_template(
    body: OutputTemplateInput, org_id: OrgId, pool: Pool, settings: AppSettings
) -> OutputTemplateOut:
    """Create a template (active unless `active: false`); an active one is rendered onto every topic."""
    try:
        stored = await repo.create_template(
            pool,
            org_id,
            body.key,
            _fields(body),
            active=body.active is not False,
            limit=settings.max_output_templates_per_org,
            render_batch=settings.output_render_batch,
        )
    except repo.TemplateExists as exc:
        raise Problem(409, "Conflict", f"An output template with key {body.key!r} already exists") from exc
    except repo.TemplateLimitReached as exc:
        raise Problem(
            409,
            "Output template limit reached",
            f"An org may have at most {settings.max_output_templates_per_org} output templates",
        ) from exc
    return _out(stored)


@router.get("/{key}")
async def get_template(key: str, org_id: OrgId, pool: Pool) -> OutputTemplateOut:
    """One template."""
    stored = await repo.get_template(pool, org_id, key)
    if stored is None:
        raise not_found("output template")
    return _out(stored)


@router.put("/{key}")
async def update_template(
    key: str, body: OutputTemplateUpdate, org_id: OrgId, pool: Pool, settings: AppSettings
) -> OutputTemplateOut:
    """Replace a template's fields (`active` omitted keeps its state); stored names are rendered again."""
    stored = await repo.update_template(
        pool, org_id, key, _fields(body), active=body.active, render_batch=settings.output_render_batch
    )
    if stored is None:
        raise not_found("output template")
    return _out(stored)


async def _set_active(
    pool: PgPool, settings: Settings, org_id: uuid.UUID, key: str, *, active: bool
) -> OutputTemplateOut:
    stored = await repo.update_template(
        pool, org_id, key, None, active=active, render_batch=settings.output_render_batch
    )
    if stored is None:
        raise not_found("output template")
    return _out(stored)


@router.post("/{key}/activate")
async def activate_template(key: str, org_id: OrgId, pool: Pool, settings: AppSettings) -> OutputTemplateOut:
    """Make the template the one connections naming its key use; renders it onto every topic."""
    return await _set_active(pool, settings, org_id, key, active=True)


@router.post("/{key}/deactivate")
async def deactivate_template(
    key: str, org_id: OrgId, pool: Pool, settings: AppSettings
) -> OutputTemplateOut:
    """Stop using the template: its stored names are cleared and pushes fall back to topic names."""
    return await _set_active(pool, settings, org_id, key, active=False)


@router.delete("/{key}", status_code=204)
async def delete_template(key: str, org_id: OrgId, pool: Pool) -> Response:
    """Delete a template no connection names in `config.output_template_key`."""
    try:
        deleted = await repo.delete_template(pool, org_id, key)
    except repo.TemplateInUse as exc:
        ids = ", ".join(str(connection_id) for connection_id in exc.connection_ids)
        raise Problem(
            409, "Output template in use", f"Connections {ids} name {key!r} as their output template"
        ) from exc
    if not deleted:
        raise not_found("output template")
    return Response(status_code=204)


@router.post("/{key}/preview", openapi_extra=READ_SCOPE_OPERATION)
async def preview_template(
    key: str, body: TemplatePreviewInput, org_id: OrgId, pool: Pool
) -> TemplatePreviewOut:
    """Render the template (active or not) over stored topics or inline ones; stores nothing."""
    stored = await repo.get_template(pool, org_id, key)
    if stored is None:
        raise not_found("output template")
    template = stored.template
    if body.topic_ids is not None:
        wanted = list(dict.fromkeys(body.topic_ids))
        topics = await rendered_names.renderable_topics(pool, org_id, wanted, after=None, limit=len(wanted))
        by_id = {topic.id: topic for topic in topics}
        missing = [str(topic_id) for topic_id in wanted if topic_id not in by_id]
        if missing:
            raise Problem(404, "Not Found", f"topics not found: {', '.join(missing)}")
        items = [
            _item(topic.id, topic.external_id, render(template, topic, currency=body.currency))
            for topic in (by_id[topic_id] for topic_id in wanted)
        ]
    else:
        assert body.topics is not None
        # CPM as it would be stored (numeric(12, 4)), so the preview matches the kept names.
        stored_like = [
            topic.model_copy(update={"cpm": topic.cpm.quantize(CPM_SCALE)})
            if topic.cpm is not None
            else topic
            for topic in body.topics
        ]
        items = [
            _item(None, topic.external_id, render(template, topic, currency=body.currency))
            for topic in stored_like
        ]
    return TemplatePreviewOut(key=key, items=items)


def _item(topic_id: uuid.UUID | None, external_id: str | None, segment: RenderedSegment) -> PreviewItemOut:
    return PreviewItemOut(
        topic_id=topic_id, external_id=external_id, name=segment.name, description=segment.description
    )


@router.post("/{key}/render")
async def render_template(key: str, org_id: OrgId, pool: Pool, settings: AppSettings) -> TemplateRenderOut:
    """Render an active template onto every topic of the org again and store the names."""
    try:
        rendered = await repo.rerender_template(pool, org_id, key, render_batch=settings.output_render_batch)
    except repo.TemplateInactive as exc:
        raise Problem(409, "Output template inactive", f"Activate {key!r} before rendering it") from exc
    if rendered is None:
        raise not_found("output template")
    return TemplateRenderOut(key=key, rendered=rendered)
