"""Run lanes split the id space into even, adjacent ranges that cover every id once."""

from __future__ import annotations

import uuid

import pytest

from shared.runs.lanes import lane_range, lanes_for


def _lane_of(topic_id: uuid.UUID, lanes: int) -> list[int]:
    found = []
    for lane in range(lanes):
        after, upto = lane_range(lane, lanes)
        if (after is None or topic_id > after) and (upto is None or topic_id <= upto):
            found.append(lane)
    return found


@pytest.mark.parametrize("lanes", [1, 2, 3, 4, 7])
def test_every_id_falls_in_exactly_one_lane(lanes: int) -> None:
    edges = [uuid.UUID(int=0), uuid.UUID(int=(1 << 128) - 1)]
    for lane in range(lanes):
        after, upto = lane_range(lane, lanes)
        edges += [u for u in (after, upto) if u is not None]
        edges += [uuid.UUID(int=u.int + 1) for u in (after, upto) if u is not None and u.int + 1 < 1 << 128]
    for topic_id in edges + [uuid.uuid4() for _ in range(500)]:
        assert len(_lane_of(topic_id, lanes)) == 1, topic_id


def test_random_topic_ids_spread_about_evenly_over_the_lanes() -> None:
    counts = [0, 0, 0, 0]
    for _ in range(8000):
        (lane,) = _lane_of(uuid.uuid4(), 4)
        counts[lane] += 1
    assert min(counts) > 1700


def test_small_runs_keep_one_lane_and_big_ones_get_at_most_the_limit() -> None:
    assert lanes_for(999, most=4, min_items=1000) == 1
    assert lanes_for(0, most=4, min_items=1000) == 1
    assert lanes_for(2500, most=4, min_items=1000) == 2
    assert lanes_for(200_000, most=4, min_items=1000) == 4
    assert lanes_for(200_000, most=1, min_items=1000) == 1
