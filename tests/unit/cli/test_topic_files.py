"""Topic files for `activator topics import`: CSV columns and JSON shapes, and where an error is in the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.cli_client.sse import SseParser
from services.cli_client.topic_files import (
    TopicChunks,
    TopicFileError,
    locate,
    topics_from_csv,
    topics_from_json,
)

CSV = """name,parent_category,path,description,external_id,cpm,attributes.country,attributes.reach
Auto Intenders,Automotive,Automotive > Auto Intenders,Car shoppers,auto-001,1.75,DE,120000
Luxury Cars,Automotive,,,auto-002,,,
"""


def test_csv_rows_become_topic_inputs_with_paths_and_attributes_and_no_empty_fields() -> None:
    assert topics_from_csv(CSV) == [
        {
            "name": "Auto Intenders",
            "parentCategory": "Automotive",
            "path": ["Automotive", "Auto Intenders"],
            "description": "Car shoppers",
            "externalId": "auto-001",
            "cpm": "1.75",
            "attributes": {"country": "DE", "reach": "120000"},
        },
        {"name": "Luxury Cars", "parentCategory": "Automotive", "externalId": "auto-002"},
    ]


def test_csv_headers_in_camel_case_are_accepted_and_unknown_ones_refused() -> None:
    assert topics_from_csv("name,externalId,parentCategory\nA,a-1,Cat\n") == [
        {"name": "A", "externalId": "a-1", "parentCategory": "Cat"}
    ]
    with pytest.raises(TopicFileError, match="unknown column 'colour'"):
        topics_from_csv("name,colour\nA,red\n")
    with pytest.raises(TopicFileError, match="no name column"):
        topics_from_csv("external_id\na-1\n")


def test_json_takes_a_list_or_the_bulk_document() -> None:
    topics = [{"name": "A", "externalId": "a-1"}]
    assert topics_from_json('[{"name": "A", "externalId": "a-1"}]') == topics
    assert topics_from_json('{"topics": [{"name": "A", "externalId": "a-1"}]}') == topics
    with pytest.raises(TopicFileError):
        topics_from_json('{"name": "A"}')
    with pytest.raises(TopicFileError, match="not JSON"):
        topics_from_json("name,external_id")


def test_a_bulk_validation_error_is_located_in_the_file() -> None:
    assert locate("body.topics.3.name", 5000, csv_file=True) == "row 5005.name"
    assert locate("body.topics.3.name", 0, csv_file=False) == "topic 3.name"
    assert locate("body.topics", 0, csv_file=True) == "body.topics"


def test_server_sent_events_are_parsed_with_their_ids_and_comments_skipped() -> None:
    parser = SseParser()
    lines = [
        "retry: 1000",
        "",
        ": keepalive",
        "",
        "id: abc.3",
        "event: run",
        'data: {"a":1}',
        "",
        "data: x",
        "",
    ]
    events = [event for line in lines if (event := parser.feed(line)) is not None]
    assert [(event.event, event.data, event.id) for event in events] == [
        ("run", '{"a":1}', "abc.3"),
        ("message", "x", "abc.3"),
    ]


def test_a_csv_is_read_in_chunks_of_the_batch_size_as_they_are_sent(tmp_path: Path) -> None:
    rows = "".join(f"Topic {index},t-{index}\n" for index in range(25_000))
    path = tmp_path / "big.csv"
    path.write_text("name,external_id\n" + rows)
    chunks = TopicChunks(path, 10_000)
    assert chunks.total == path.stat().st_size
    iterator = iter(chunks)
    first = next(iterator)
    # Lazy: the first batch is handed over before the rest of the file is read.
    assert len(first) == 10_000
    assert first[0] == {"name": "Topic 0", "externalId": "t-0"}
    assert 0 < chunks.position < chunks.total
    rest = list(iterator)
    assert [len(chunk) for chunk in rest] == [10_000, 5_000]
    assert rest[-1][-1] == {"name": "Topic 24999", "externalId": "t-24999"}
    assert chunks.position == chunks.total


def test_json_files_are_chunked_too_and_other_extensions_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"topics": [{"name": f"T{index}"} for index in range(5)]}))
    assert [len(chunk) for chunk in TopicChunks(path, 2)] == [2, 2, 1]
    with pytest.raises(TopicFileError, match=r"give a \.csv or \.json file"):
        TopicChunks(tmp_path / "t.xlsx", 2)


def test_a_bad_csv_header_is_refused_when_the_first_chunk_is_read(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("name,colour\nA,red\n")
    with pytest.raises(TopicFileError, match="unknown column 'colour'"):
        next(iter(TopicChunks(path, 10)))
