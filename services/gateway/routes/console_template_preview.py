"""POST /api/output-template-previews: a template not yet saved, rendered over the org's real topics.

The console's editor calls it as the template is typed; the stored template's own preview
(`POST /api/output-templates/{key}/preview`) can only render what was saved.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import ConfigDict, Field

from services.gateway.deps import READ_SCOPE_OPERATION, OrgId, Pool
from services.gateway.schemas.base import ApiModel
from services.gateway.schemas.templates import OutputTemplateUpdate, PreviewItemOut
from shared.db.topics import list_topics
from shared.output_templates import DEFAULT_CURRENCY, OutputTemplate, Renderer

router = APIRouter(prefix="/api/output-template-previews", tags=["output templates"])

MAX_PREVIEW_TOPICS = 20


class TemplateDraftPreviewInput(ApiModel):
    """A template's fields as typed, checked as a save would check them (422 naming the field)."""

    template: OutputTemplateUpdate
    limit: int = Field(default=5, ge=1, le=MAX_PREVIEW_TOPICS, description="How many of the org's topics")
    currency: str = Field(default=DEFAULT_CURRENCY, pattern=r"^[A-Z]{3}$")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"template": {"pathFields": ["path", "name"], "separator": " > "}, "limit": 5}]
        }
    )


class TemplateDraftPreviewOut(ApiModel):
    items: list[PreviewItemOut]


@router.post("", openapi_extra=READ_SCOPE_OPERATION)
async def preview_draft(
    body: TemplateDraftPreviewInput, org_id: OrgId, pool: Pool
) -> TemplateDraftPreviewOut:
    """The segment names and descriptions the draft would give the org's first topics; stores nothing."""
    draft = body.template
    template = OutputTemplate(
        key="draft",
        path_fields=draft.path_fields,
        separator=draft.separator,
        name_template=draft.name_template,
        description_template=draft.description_template,
    )
    renderer = Renderer(template, currency=body.currency)
    topics = await list_topics(pool, org_id, limit=body.limit, after=None)
    items = []
    for topic in topics:
        segment = renderer(topic)
        items.append(
            PreviewItemOut(
                topic_id=topic.id,
                external_id=topic.external_id,
                name=segment.name,
                description=segment.description,
            )
        )
    return TemplateDraftPreviewOut(items=items)
