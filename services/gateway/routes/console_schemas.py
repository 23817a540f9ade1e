"""GET /api/connection-schemas: the config and credentials models as JSON schemas, for generated forms."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from services.gateway.console.form_schemas import connection_form_schemas
from services.gateway.deps import OrgId

router = APIRouter(prefix="/api/connection-schemas", tags=["connections"])


@router.get("")
async def get_connection_schemas(org_id: OrgId) -> dict[str, Any]:
    """`outbound.<platform>.{config, credentials.<authType>}` and `inbound.{config, credentials}`: the
    models a saved connection is checked against (bidirectional: both)."""
    del org_id  # signed-in callers only, like the rest of /api
    return connection_form_schemas()
