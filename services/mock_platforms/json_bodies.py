"""Reading request bodies the way the platforms do: bad JSON or a bad field is a permanent 400."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from services.mock_platforms.platform_errors import invalid_request
from services.mock_platforms.platforms import Platform

ModelT = TypeVar("ModelT", bound=BaseModel)


async def read_json(request: Request, platform: Platform) -> Any:
    body = await request.body()
    try:
        return json.loads(body)
    except ValueError:
        raise invalid_request(platform, "request body is not valid JSON") from None


def parse_model(model: type[ModelT], payload: Any, platform: Platform) -> ModelT:
    """Validate a payload; the first problem becomes the 400's message and property."""
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = ".".join(str(part) for part in first["loc"])
        raise invalid_request(
            platform, f"{field}: {first['msg']}" if field else first["msg"], field
        ) from None


async def read_model(request: Request, model: type[ModelT], platform: Platform) -> ModelT:
    return parse_model(model, await read_json(request, platform), platform)
