"""Field mappings: a record becomes topic fields, or an invalid record with a reason a human can act on."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from shared.inbound.mapping import InvalidRecord, MappedTopic, RecordMapper
from tests.unit.inbound.inbound_fakes import DMP_MAPPINGS, dmp_record, inbound_config


def mapped(record: object, **config: Any) -> MappedTopic | InvalidRecord:
    return RecordMapper(inbound_config(**config)).map(0, record)


def test_a_record_maps_to_its_topic_with_its_place_in_the_taxonomy() -> None:
    topic = mapped(dmp_record(7, price={"cpm": 2.34567}))
    assert topic == MappedTopic(
        source_id="dmp-0007",
        name="Segment 7",
        parent_category="Travel",
        path=("Travel", "Segment 7"),
        description="About 7",
        cpm=Decimal("2.3457"),  # rounded as numeric(12, 4) stores it, so the next run compares equal
        attributes={"country": "US"},
    )


def test_a_mapped_path_gives_the_ancestors_and_the_parent_category() -> None:
    mappings = [*DMP_MAPPINGS[:1], {"source": "tree", "target": "path"}]
    as_list = mapped(dmp_record(1, tree=["Interests", "Travel"]), field_mappings=mappings)
    as_text = mapped(dmp_record(1, tree="Interests > Travel > Segment 1"), field_mappings=mappings)
    for topic in (as_list, as_text):
        assert isinstance(topic, MappedTopic)
        assert topic.path == ("Interests", "Travel", "Segment 1")
        assert topic.parent_category == "Travel"


def test_without_a_parent_the_path_is_the_name() -> None:
    topic = mapped({"segment_id": 5, "segment_name": "Solo"}, field_mappings=DMP_MAPPINGS[:1])
    assert isinstance(topic, MappedTopic)
    assert (topic.source_id, topic.path, topic.parent_category, topic.cpm) == ("5", ("Solo",), None, None)


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (dmp_record(1, segment_name="  "), "topic_name ('segment_name') is missing or empty"),
        ({"segment_name": "No id"}, "source id 'segment_id' is missing"),
        (dmp_record(1, segment_id=True), "source id 'segment_id' is not text or an integer (bool)"),
        (dmp_record(1, price={"cpm": -1}), "cpm -1 is outside 0..99999999.9999"),
        (dmp_record(1, price={"cpm": "cheap"}), "cpm 'cheap' is not a number"),
        (dmp_record(1, segment_name={"en": "x"}), "topic_name is not text (got dict)"),
        (dmp_record(1, segment_name="a\x00b"), "topic_name contains a NUL character"),
        (dmp_record(1, segment_name="x" * 501), "topic_name is longer than 500 characters"),
        (["not", "an", "object"], "the record is not an object (got list)"),
    ],
)
def test_an_invalid_record_says_why(record: object, reason: str) -> None:
    result = mapped(record)
    assert isinstance(result, InvalidRecord)
    assert result.reason == reason
    assert result.payload == record


def test_an_invalid_record_keeps_its_source_id_when_it_has_one() -> None:
    result = mapped(dmp_record(3, segment_name=""))
    assert isinstance(result, InvalidRecord)
    assert result.source_id == "dmp-0003"


def test_an_external_id_mapping_must_agree_with_the_source_id() -> None:
    mappings = [*DMP_MAPPINGS, {"source": "other_id", "target": "external_id"}]
    agrees = mapped(dmp_record(1, other_id="dmp-0001"), field_mappings=mappings)
    differs = mapped(dmp_record(1, other_id="x-1"), field_mappings=mappings)
    assert isinstance(agrees, MappedTopic)
    assert isinstance(differs, InvalidRecord)
    assert "differs from the source id" in differs.reason
