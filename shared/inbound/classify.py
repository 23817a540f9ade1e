"""Classification of a page's records against the org's topics: insert, update, unchanged, invalid, duplicate."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from enum import StrEnum

from shared.inbound.mapping import InvalidRecord, MappedTopic, TopicContent


class Classification(StrEnum):
    INSERT = "insert"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    INVALID = "invalid"
    DUPLICATE = "duplicate"  # a source id this run already took from an earlier record


@dataclass(frozen=True, slots=True)
class StoredTopic(TopicContent):
    """What classification compares of an existing topic (found by org and external id)."""

    external_id: str
    status: str
    source_connection_id: uuid.UUID | None
    topic_id: uuid.UUID


def classify(mapped: MappedTopic, stored: StoredTopic | None, connection_id: uuid.UUID) -> Classification:
    """Insert when the org has no topic with the source id; update when anything the source owns differs."""
    if stored is None:
        return Classification.INSERT
    same = (
        stored.status == "active"
        and stored.source_connection_id == connection_id
        and stored.same_content(mapped)
    )
    return Classification.UNCHANGED if same else Classification.UPDATE


@dataclass(slots=True)
class PagePlan:
    """What one page does to the taxonomy."""

    upserts: list[MappedTopic] = field(default_factory=list)
    inserts: int = 0
    updates: int = 0
    unchanged: int = 0
    unchanged_topic_ids: list[uuid.UUID] = field(default_factory=list)  # listed as the run's items
    duplicates: int = 0
    invalid: list[InvalidRecord] = field(default_factory=list)

    @property
    def records(self) -> int:
        """Every record of the page."""
        return self.inserts + self.updates + self.unchanged + self.duplicates + len(self.invalid)


def plan_page(
    records: list[MappedTopic | InvalidRecord],
    new_source_ids: Set[str],
    stored: Mapping[str, StoredTopic],
    connection_id: uuid.UUID,
) -> PagePlan:
    """Classify a mapped page; `new_source_ids` are the ids no earlier page of the run had."""
    plan = plan_pages([records], new_source_ids, stored, connection_id)[0]
    # One lock order for every writer of the org's topics: no deadlock between concurrent syncs.
    plan.upserts.sort(key=lambda topic: topic.source_id)
    return plan


def plan_pages(
    pages: list[list[MappedTopic | InvalidRecord]],
    new_source_ids: Set[str],
    stored: Mapping[str, StoredTopic],
    connection_id: uuid.UUID,
) -> list[PagePlan]:
    """Classify consecutive pages committed together: a source id belongs to the first record that has
    it, in this page or an earlier one, so each page counts what it would have counted alone."""
    plans: list[PagePlan] = []
    taken: set[str] = set()
    for records in pages:
        plan = PagePlan()
        for record in records:
            if isinstance(record, InvalidRecord):
                plan.invalid.append(record)
                continue
            if record.source_id not in new_source_ids or record.source_id in taken:
                plan.duplicates += 1
                continue
            taken.add(record.source_id)
            outcome = classify(record, stored.get(record.source_id), connection_id)
            if outcome is Classification.INSERT:
                plan.inserts += 1
            elif outcome is Classification.UPDATE:
                plan.updates += 1
            else:
                plan.unchanged += 1
                plan.unchanged_topic_ids.append(stored[record.source_id].topic_id)
                continue
            plan.upserts.append(record)
        plans.append(plan)
    return plans
