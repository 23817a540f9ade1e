"""The source over the shared HTTP layer: requests it sends, pages it reads, and the errors it names."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from shared.connectors import ConnectorConfigError, ConnectorDeps, HttpSettings
from shared.inbound.checkpoint import SyncCheckpoint
from shared.inbound.config import InboundConfig
from shared.inbound.pager import Pager, PagingLimits
from shared.inbound.source import InboundSource, SourceError, build_inbound_source
from tests.unit.connectors.connector_fakes import FakeSleep
from tests.unit.inbound.inbound_fakes import SourceApi, dmp_record, inbound_config


def source_for(
    api: SourceApi,
    config: InboundConfig,
    *,
    auth_type: str = "none",
    credentials: dict[str, str] | None = None,
) -> InboundSource:
    return build_inbound_source(
        config,
        auth_type,
        credentials,
        settings=HttpSettings(max_attempts=3),
        deps=ConnectorDeps(transport=api.transport, sleep=FakeSleep()),
        pager=Pager(config, PagingLimits()),
    )


def listing(items: list[Any], total: int = 2) -> httpx.Response:
    return httpx.Response(200, json={"data": {"items": items}, "meta": [{"total": total}]})


async def test_count_and_page_requests_carry_filters_headers_auth_and_the_mark() -> None:
    api = SourceApi(lambda _request: listing([dmp_record(1), dmp_record(2)]))
    config = inbound_config(
        filters={"country": "US"},
        extra_headers={"X-Client": "activator"},
        sync_mode="incremental",
        incremental_field="updated_at",
        incremental_param="updated_since",
        base_url="https://dmp.example/api/v1/segments?tenant=7",
    )
    source = source_for(api, config, auth_type="bearer", credentials={"api_key": "k-123456789"})
    assert await source.count("2024-05-01T00:00:00Z") == 2
    fetched = await source.page(SyncCheckpoint(offset=4, since="2024-05-01T00:00:00Z"))
    count_request, page_request = api.requests
    assert count_request.url.path == "/api/v1/segments/count"
    # A count path replaces the listing's path and query (RFC 3986), filters still apply.
    assert dict(count_request.url.params) == {
        "country": "US",
        "updated_since": "2024-05-01T00:00:00Z",
    }
    assert dict(page_request.url.params) == {
        "tenant": "7",
        "country": "US",
        "limit": "2",
        "offset": "4",
        "updated_since": "2024-05-01T00:00:00Z",
    }
    assert page_request.headers["Authorization"] == "Bearer k-123456789"
    assert page_request.headers["X-Client"] == "activator"
    assert [item["segment_id"] for item in fetched.items] == ["dmp-0001", "dmp-0002"]
    await source.aclose()


async def test_a_cursor_page_reads_its_next_cursor_from_the_body() -> None:
    body = {"result": {"rows": [dmp_record(1)]}, "paging": {"next_cursor": "abc"}}
    api = SourceApi(lambda _request: httpx.Response(200, json=body))
    config = inbound_config(
        response_path="result.rows",
        pagination_type="cursor",
        pagination_params={"cursor_response_path": "paging.next_cursor", "limit_param": None},
    )
    fetched = await source_for(api, config).page(SyncCheckpoint())
    assert (len(fetched.items), fetched.next_cursor) == (1, "abc")
    assert dict(api.requests[0].url.params) == {}


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (httpx.Response(200, content=b'{"data": {"items": [1, '), "the body is not valid JSON"),
        (httpx.Response(200, content=b'{"data": {"items": [NaN]}}'), "the body is not valid JSON"),
        (
            httpx.Response(200, json={"data": {"rows": []}}),
            "response_path 'data.items' not found: no 'items' in data",
        ),
        (httpx.Response(200, json={"data": {"items": {"a": 1}}}), "response_path 'data.items' is not a list"),
        (httpx.Response(404, json={"message": "no such listing"}), "HTTP 404: no such listing"),
        (httpx.Response(401, json={"message": "bad key"}), "the source refused the credentials: HTTP 401"),
    ],
)
async def test_an_unusable_page_is_a_clear_error(response: httpx.Response, message: str) -> None:
    source = source_for(SourceApi(lambda _request: response), inbound_config())
    with pytest.raises(SourceError, match=message.replace("(", "\\(")):
        await source.page(SyncCheckpoint())


@pytest.mark.parametrize(
    "body",
    [
        b'\xef\xbb\xbf{"data": {"items": [{"segment_id": "s-1", "segment_name": "A"}]}}',  # a UTF-8 BOM
        b'{"data": {"items": [{"segment_id": "s-1", "segment_name": "A \\ud800"}]}}',  # a lone surrogate
    ],
)
async def test_a_body_only_the_standard_json_reader_takes_is_still_read(body: bytes) -> None:
    source = source_for(SourceApi(lambda _request: httpx.Response(200, content=body)), inbound_config())
    fetched = await source.page(SyncCheckpoint())
    assert [item["segment_id"] for item in fetched.items] == ["s-1"]


async def test_transient_failures_are_retried_by_the_shared_layer() -> None:
    answers = iter([httpx.Response(503), httpx.Response(502), listing([dmp_record(1)])])
    api = SourceApi(lambda _request: next(answers))
    fetched = await source_for(api, inbound_config()).page(SyncCheckpoint())
    assert len(api.requests) == 3
    assert len(fetched.items) == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"meta": []}, "count_response_path 'meta.0.total' not found"),
        ({"meta": [{"total": "many"}]}, "count_response_path 'meta.0.total' is not a count"),
        ({"meta": [{"total": -1}]}, "is not a count"),
    ],
)
async def test_an_unusable_count_is_a_clear_error(body: dict[str, Any], message: str) -> None:
    source = source_for(SourceApi(lambda _request: httpx.Response(200, json=body)), inbound_config())
    with pytest.raises(SourceError, match=message):
        await source.count(None)


async def test_no_count_endpoint_means_no_total() -> None:
    api = SourceApi(lambda _request: listing([]))
    assert await source_for(api, inbound_config(count_endpoint=None)).count(None) is None
    assert api.requests == []


def test_credentials_that_do_not_fit_the_auth_type_are_refused_without_their_value() -> None:
    with pytest.raises(ConnectorConfigError) as caught:
        source_for(
            SourceApi(lambda _request: listing([])),
            inbound_config(),
            auth_type="bearer",
            credentials={"key": "s3cret"},
        )
    assert "api_key" in str(caught.value)
    assert "s3cret" not in str(caught.value)


async def test_the_same_records_hash_alike_whatever_their_key_order() -> None:
    bodies = iter([b'{"data": {"items": [{"a": 1, "b": 2}]}}', b'{"data": {"items": [{"b": 2, "a": 1}]}}'])
    source = source_for(
        SourceApi(lambda _request: httpx.Response(200, content=next(bodies))), inbound_config()
    )
    first = await source.page(SyncCheckpoint())
    again = await source.page(SyncCheckpoint(offset=1))
    assert first.content_hash == again.content_hash  # so the pager's repeated-page guard sees it
