"""A route whose JSON body pydantic parses and validates in one pass, for the large bodies of bulk imports.

FastAPI reads a body with `json.loads` and then validates the Python objects: two passes, and the first
builds every dict and list only for the second to walk them. Here pydantic's own JSON parser validates
the bytes into the model directly. Only a body it accepts takes that path: any other goes the usual
way, so a refused body is answered exactly as before (same 400 or 422 problem, same field names), and
the few bodies `json.loads` accepts but pydantic's parser does not (a UTF-8 BOM, a lone surrogate
escape) are still taken. The OpenAPI document is FastAPI's own, from the declared body parameter.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.types import Receive, Scope


class _OnePassJsonRequest(Request):
    """A request whose `json()` is its body already validated into `model`, when pydantic accepts it."""

    def __init__(self, scope: Scope, receive: Receive, model: type[BaseModel]) -> None:
        super().__init__(scope, receive)
        self._model = model
        self._validated: BaseModel | None = None

    async def json(self) -> Any:
        if self._validated is None:
            try:
                self._validated = self._model.model_validate_json(await self.body())
            except ValidationError:
                # FastAPI's json.loads and validation then answer it, as for any other route.
                return await super().json()
        # FastAPI validates this as the body parameter again: an instance of the model passes as is.
        return self._validated


class OnePassJsonRoute(APIRoute):
    """An `APIRoute` for an endpoint whose one body parameter is a pydantic model (`route_class_override`)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        model = self.body_field.field_info.annotation if self.body_field else None
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or self._embed_body_fields:
            msg = f"{self.path}: OnePassJsonRoute needs one body parameter that is a pydantic model"
            raise TypeError(msg)
        body_model: type[BaseModel] = model

        async def one_pass_handler(request: Request) -> Response:
            return await handler(_OnePassJsonRequest(request.scope, request.receive, body_model))

        return one_pass_handler
