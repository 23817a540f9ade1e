"""Dotted paths with list indexes, as response_path, count_response_path and mapping sources use them."""

from __future__ import annotations

import pytest

from shared.inbound.paths import MISSING, PathNotFound, resolve, resolve_or_raise

BODY = {"data": {"items": [{"id": 1}, {"id": 2}]}, "meta": [{"total": 20000}], "0": "key"}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("data.items.1.id", 2),
        ("meta.0.total", 20000),
        ("0", "key"),  # a numeric part on an object is a key
        ("", BODY),  # the empty path is the body itself
    ],
)
def test_paths_walk_objects_and_index_lists(path: str, expected: object) -> None:
    assert resolve(BODY, path) == expected


@pytest.mark.parametrize("path", ["data.records", "meta.1.total", "meta.x", "data.items.0.id.deeper"])
def test_a_path_that_leads_nowhere_is_missing(path: str) -> None:
    assert resolve(BODY, path) is MISSING


def test_a_missing_path_names_where_it_stopped() -> None:
    with pytest.raises(PathNotFound) as caught:
        resolve_or_raise(BODY, "meta.3.total")
    assert str(caught.value) == "'meta.3.total' not found: no '3' in meta (a list of 1)"


def test_null_is_a_value_not_a_missing_path() -> None:
    assert resolve({"next": None}, "next") is None
