"""FastAPI dependencies as Annotated aliases: the pool, the settings, the caller's org."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request
from faststream.kafka import KafkaBroker

from services.gateway.problems import Problem
from shared.db.orgs import org_for_api_key
from shared.db.pool import PgPool
from shared.settings import Settings


def _pool(request: Request) -> PgPool:
    pool: PgPool = request.app.state.pool
    return pool


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _broker(request: Request) -> KafkaBroker:
    broker: KafkaBroker = request.app.state.broker
    return broker


Pool = Annotated[PgPool, Depends(_pool)]
AppSettings = Annotated[Settings, Depends(_settings)]
Broker = Annotated[KafkaBroker, Depends(_broker)]


async def _org_id(request: Request, pool: Pool) -> uuid.UUID:
    header = request.headers.get("authorization", "")
    scheme, _, api_key = header.partition(" ")
    if scheme.lower() != "bearer" or not api_key.strip():
        raise Problem(401, "Unauthorized", "Send Authorization: Bearer <api key>")
    org_id = await org_for_api_key(pool, api_key.strip())
    if org_id is None:
        raise Problem(401, "Unauthorized", "The API key is unknown or revoked")
    return org_id


OrgId = Annotated[uuid.UUID, Depends(_org_id)]
