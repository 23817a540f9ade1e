"""The gateway's JSON shapes, one module a resource; import them from here.

base: ApiModel (camelCase on the wire, unknown fields refused); connections; runs (requests, status
documents, items, rejects, view tokens); schedules; topics (and the bulk import, activations); templates;
keys (the org's API keys); dead_letters.
"""

from services.gateway.schemas.base import ApiModel
from services.gateway.schemas.connections import (
    AuthType,
    ConnectionCheckOut,
    ConnectionInput,
    ConnectionOut,
    ConnectionTestOut,
    Direction,
    LastRunOut,
    Platform,
)
from services.gateway.schemas.dead_letters import DeadLetterOut, DeadLetterPage, DeadLetterReplayed
from services.gateway.schemas.keys import ApiKeyCreated, ApiKeyInput, ApiKeyOut
from services.gateway.schemas.runs import (
    ItemOutcomeName,
    ReconcileRequest,
    RunAccepted,
    RunErrorOut,
    RunItemOut,
    RunItemPage,
    RunPage,
    RunRequest,
    RunStatusOut,
    RunSummaryOut,
    RunViewTokenOut,
    SyncRejectOut,
    SyncRejectPage,
    SyncRunRequest,
)
from services.gateway.schemas.schedules import ScheduleInput, ScheduleKindName, ScheduleOut
from services.gateway.schemas.templates import (
    ALLOWED_FIELDS,
    TEMPLATE_KEY_PATTERN,
    OutputTemplateInput,
    OutputTemplateOut,
    OutputTemplateUpdate,
    PreviewItemOut,
    TemplatePreviewInput,
    TemplatePreviewOut,
    TemplateRenderOut,
    TemplateText,
)
from services.gateway.schemas.topics import (
    ActivationOut,
    ActivationPage,
    BulkTopicsInput,
    BulkTopicsOut,
    RenderedSegmentOut,
    TopicInput,
    TopicOut,
    TopicPage,
)

__all__ = [
    "ALLOWED_FIELDS",
    "TEMPLATE_KEY_PATTERN",
    "ActivationOut",
    "ActivationPage",
    "ApiKeyCreated",
    "ApiKeyInput",
    "ApiKeyOut",
    "ApiModel",
    "AuthType",
    "BulkTopicsInput",
    "BulkTopicsOut",
    "ConnectionCheckOut",
    "ConnectionInput",
    "ConnectionOut",
    "ConnectionTestOut",
    "DeadLetterOut",
    "DeadLetterPage",
    "DeadLetterReplayed",
    "Direction",
    "ItemOutcomeName",
    "LastRunOut",
    "OutputTemplateInput",
    "OutputTemplateOut",
    "OutputTemplateUpdate",
    "Platform",
    "PreviewItemOut",
    "ReconcileRequest",
    "RenderedSegmentOut",
    "RunAccepted",
    "RunErrorOut",
    "RunItemOut",
    "RunItemPage",
    "RunPage",
    "RunRequest",
    "RunStatusOut",
    "RunSummaryOut",
    "RunViewTokenOut",
    "ScheduleInput",
    "ScheduleKindName",
    "ScheduleOut",
    "SyncRejectOut",
    "SyncRejectPage",
    "SyncRunRequest",
    "TemplatePreviewInput",
    "TemplatePreviewOut",
    "TemplateRenderOut",
    "TemplateText",
    "TopicInput",
    "TopicOut",
    "TopicPage",
]
