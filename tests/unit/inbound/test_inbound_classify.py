"""Classification against the org's topics by source id: insert, update, unchanged, invalid, duplicate."""

from __future__ import annotations

import dataclasses
import uuid

from shared.inbound.classify import Classification, StoredTopic, classify, plan_page
from shared.inbound.mapping import InvalidRecord, MappedTopic, RecordMapper
from tests.unit.inbound.inbound_fakes import dmp_record, inbound_config

CONNECTION = uuid.uuid4()
MAPPER = RecordMapper(inbound_config())


def topic(index: int, **changes: object) -> MappedTopic:
    result = MAPPER.map(0, dmp_record(index, **changes))
    assert isinstance(result, MappedTopic)
    return result


def stored(mapped: MappedTopic, **changes: object) -> StoredTopic:
    base = StoredTopic(
        external_id=mapped.source_id,
        name=mapped.name,
        parent_category=mapped.parent_category,
        path=mapped.path,
        description=mapped.description,
        cpm=mapped.cpm,
        attributes=dict(mapped.attributes),
        status="active",
        source_connection_id=CONNECTION,
        topic_id=uuid.uuid4(),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_a_topic_the_org_does_not_have_is_an_insert() -> None:
    assert classify(topic(1), None, CONNECTION) is Classification.INSERT


def test_the_same_content_is_unchanged_and_any_difference_an_update() -> None:
    mapped = topic(1)
    assert classify(mapped, stored(mapped), CONNECTION) is Classification.UNCHANGED
    for change in (
        {"name": "Old name"},
        {"path": ("Elsewhere", "Segment 1")},
        {"attributes": {"country": "FR"}},
        {"status": "deleted"},  # a topic that comes back is reactivated
        {"source_connection_id": uuid.uuid4()},  # another connection's topic is taken over
    ):
        assert classify(mapped, stored(mapped, **change), CONNECTION) is Classification.UPDATE, change


def test_a_page_plan_counts_every_record_once_and_writes_only_what_changed() -> None:
    unchanged, changed, new = topic(1), topic(2), topic(3)
    invalid = InvalidRecord(4, "dmp-0004", "topic_name is missing", {})
    repeat_in_page = topic(3, segment_name="Again")
    seen_on_an_earlier_page = topic(5)
    records: list[MappedTopic | InvalidRecord] = [
        new,
        unchanged,
        changed,
        invalid,
        repeat_in_page,
        seen_on_an_earlier_page,
    ]
    kept = stored(unchanged)
    plan = plan_page(
        records,
        new_source_ids={"dmp-0001", "dmp-0002", "dmp-0003", "dmp-0004"},
        stored={"dmp-0001": kept, "dmp-0002": stored(changed, description="old")},
        connection_id=CONNECTION,
    )
    assert (plan.inserts, plan.updates, plan.unchanged, plan.duplicates) == (1, 1, 1, 2)
    assert plan.unchanged_topic_ids == [kept.topic_id]  # listed as the run's item, though not written
    assert plan.invalid == [invalid]
    assert plan.records == len(records)
    assert [t.source_id for t in plan.upserts] == ["dmp-0002", "dmp-0003"]  # sorted: one lock order
    assert plan.upserts[1].name == "Segment 3"  # the first record of a source id wins
