"""A one-pass JSON route answers every body as FastAPI's own route does; only an accepted one skips json.loads."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, ClassVar

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from services.gateway.json_body import OnePassJsonRoute
from services.gateway.problems import install_problem_handlers
from services.gateway.schemas import BulkTopicsInput, BulkTopicsOut


class _CountedInput(BulkTopicsInput):
    """The bulk input, counting the bodies pydantic's JSON parser validated into it."""

    parsed: ClassVar[int] = 0

    @classmethod
    def model_validate_json(cls, *args: Any, **kwargs: Any) -> Any:
        _CountedInput.parsed += 1
        return super().model_validate_json(*args, **kwargs)


def _app() -> FastAPI:
    async def bulk(body: _CountedInput) -> BulkTopicsOut:
        names = [topic.name for topic in body.topics]
        return BulkTopicsOut(created=len(names), updated=len({*names}))

    router = APIRouter()
    router.add_api_route("/usual", bulk, methods=["POST"])
    router.add_api_route("/one-pass", bulk, methods=["POST"], route_class_override=OnePassJsonRoute)
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(router)
    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


BODIES = {
    "valid": b'{"topics": [{"name": "Cars", "cpm": 1.25, "attributes": {"reach": 3}}, {"name": "Cars"}]}',
    "utf8-bom": b'\xef\xbb\xbf{"topics": [{"name": "Cars"}]}',
    "lone-surrogate": b'{"topics": [{"name": "Cars \\ud800"}]}',
    "not-json": b"not json",
    "cut-short": b'{"topics": [{"name": "Cars"',
    "trailing": b'{"topics": [{"name": "Cars"}]} x',
    "not-utf8": b'{"topics": [{"name": "\xc3\x28"}]}',
    "empty": b"",
    "array": b"[]",
    "wrong-types": b'{"topics": [{"name": 1, "path": "x", "cpm": -1}]}',
    "unknown-field": b'{"topics": [{"name": "Cars", "sourceConnectionId": null}]}',
    "duplicate-external-id": b'{"topics": [{"name": "a", "externalId": "x"}, {"name": "b", "externalId": "x"}]}',
    "no-topics": b'{"topics": []}',
    "deep": b'{"topics": [{"name": "a", "attributes": {"x": ' + b"[" * 300 + b"]" * 300 + b"}}]}",
}


@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
@pytest.mark.parametrize(
    "content_type", ["application/json", "application/merge-patch+json", "text/plain", None]
)
async def test_every_body_is_answered_as_by_fastapis_own_route(
    client: httpx.AsyncClient, body: bytes, content_type: str | None
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    usual = await client.post("/usual", content=body, headers=headers)
    one_pass = await client.post("/one-pass", content=body, headers=headers)
    assert (one_pass.status_code, one_pass.headers["content-type"]) == (
        usual.status_code,
        usual.headers["content-type"],
    )
    assert one_pass.json() == usual.json()


async def test_an_accepted_body_is_parsed_once_by_pydantic(client: httpx.AsyncClient) -> None:
    before = _CountedInput.parsed
    response = await client.post(
        "/one-pass", content=BODIES["valid"], headers={"content-type": "application/json"}
    )
    assert response.json() == {"created": 2, "updated": 1}
    assert _CountedInput.parsed == before + 1
    await client.post("/usual", content=BODIES["valid"], headers={"content-type": "application/json"})
    assert _CountedInput.parsed == before + 1


def test_the_openapi_document_is_that_of_the_declared_body() -> None:
    document = _app().openapi()
    usual, one_pass = (document["paths"][path]["post"] for path in ("/usual", "/one-pass"))
    assert one_pass["requestBody"] == usual["requestBody"]
    assert one_pass["responses"] == usual["responses"]


def test_a_route_without_one_model_body_is_refused() -> None:
    async def no_body() -> None: ...

    router = APIRouter()
    with pytest.raises(TypeError, match="one body parameter"):
        router.add_api_route("/none", no_body, methods=["POST"], route_class_override=OnePassJsonRoute)
