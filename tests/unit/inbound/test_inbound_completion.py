"""How a paged-through run ends: complete, partial, or incomplete with both figures; and its high-water mark."""

from __future__ import annotations

from shared.inbound.completion import judge, may_soft_delete, soft_delete_note
from shared.inbound.watermarks import later, page_mark


def test_a_run_that_saw_every_source_id_succeeds_and_may_soft_delete() -> None:
    verdict = judge(total=20000, recount=20000, recount_error=None, distinct=20000, invalid=0)
    assert (verdict.status, verdict.reason, verdict.verified) == ("succeeded", None, True)


def test_invalid_records_make_a_complete_run_partial() -> None:
    verdict = judge(total=10, recount=10, recount_error=None, distinct=10, invalid=2)
    assert (verdict.status, verdict.reason, verdict.verified) == (
        "partial",
        "2 invalid records kept as rejects",
        True,
    )


def test_a_mismatch_is_incomplete_with_both_figures() -> None:
    verdict = judge(total=20000, recount=20000, recount_error=None, distinct=19950, invalid=0)
    assert verdict.status == "incomplete"
    assert verdict.reason == "the source reported 20000 records but 19950 distinct source ids were seen"
    assert not verdict.complete


def test_a_total_that_changed_during_the_run_is_incomplete() -> None:
    verdict = judge(total=3000, recount=2700, recount_error=None, distinct=2700, invalid=0)
    assert verdict.status == "incomplete"
    assert verdict.reason == (
        "the source's total changed during the run: 3000 at the start, 2700 at the end; 2700 distinct source ids seen"
    )


def test_without_a_count_endpoint_nothing_is_verified() -> None:
    verdict = judge(total=None, recount=None, recount_error=None, distinct=5, invalid=0)
    assert (verdict.status, verdict.verified) == ("succeeded", False)
    assert "completeness not checked" in (verdict.reason or "")


def test_soft_deletes_up_to_the_share_and_not_beyond() -> None:
    assert may_soft_delete(candidates=29, active=100, max_share=0.29)
    assert not may_soft_delete(candidates=30, active=100, max_share=0.29)
    assert not may_soft_delete(candidates=0, active=100, max_share=0.2)
    assert not may_soft_delete(candidates=1, active=1, max_share=0.2)  # an emptied source deletes nothing


def test_soft_delete_notes() -> None:
    assert soft_delete_note(candidates=3, active=100, deleted=3, max_share=0.2) == (
        "3 topics no longer in the source marked deleted"
    )
    assert soft_delete_note(candidates=30, active=100, deleted=0, max_share=0.2) == (
        "soft deletes skipped: 30 of the connection's 100 topics are not in the source, "
        "more than the 20% allowed (SYNC_MAX_DELETE_SHARE)"
    )
    assert soft_delete_note(candidates=0, active=100, deleted=0, max_share=0.2) is None


def test_marks_compare_as_instants_then_numbers() -> None:
    assert later("2024-12-31T23:00:00Z", "2025-01-01T00:00:00+01:00") == "2024-12-31T23:00:00Z"
    assert later(None, "9") == "9"
    assert later("9", "10") == "10"  # numbers, not text
    items = [{"updated_at": "2024-03-01T00:00:00Z"}, {"updated_at": "2024-11-05T10:00:00Z"}, {"other": 1}]
    assert page_mark(items, "updated_at") == "2024-11-05T10:00:00Z"
