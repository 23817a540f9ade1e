"""Paths as response_path, count_response_path, cursor paths and mapping sources use them: dotted or JSONPath."""

from __future__ import annotations

import pytest

from shared.inbound.paths import MISSING, InvalidPath, PathNotFound, parse_path, resolve, resolve_or_raise

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


@pytest.mark.parametrize(
    ("dotted", "jsonpath"),
    [
        ("data.items.1.id", "$.data.items[1].id"),
        ("meta.0.total", "$.meta[0].total"),
        ("data.items", "$['data'][\"items\"]"),
        ("", "$"),
    ],
)
def test_dotted_and_jsonpath_paths_resolve_alike(dotted: str, jsonpath: str) -> None:
    assert resolve(BODY, jsonpath) == resolve(BODY, dotted)
    assert resolve(BODY, jsonpath) is not MISSING


def test_jsonpath_reaches_what_dotted_paths_cannot() -> None:
    body = {"a.b": {"items": [1, 2, 3]}}
    assert resolve(body, "$['a.b'].items[-1]") == 3  # a dotted key, an index from the end
    assert resolve(body, "a.b.items") is MISSING


def test_a_jsonpath_index_does_not_read_an_object_key() -> None:
    assert resolve(BODY, "$[0]") is MISSING
    assert resolve(BODY, "$['0']") == "key"


def test_a_missing_jsonpath_names_where_it_stopped() -> None:
    with pytest.raises(PathNotFound) as caught:
        resolve_or_raise(BODY, "$.meta[3].total")
    assert str(caught.value) == "'$.meta[3].total' not found: no [3] in meta (a list of 1)"


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("$.data.items[", "not a valid JSONPath"),
        ("$.data.items[*]", "must select one value"),
        ("$..id", "must select one value"),
        ("$.data.items[?@.id > 1]", "must select one value"),
        ("data..items", "no empty parts"),
    ],
)
def test_a_malformed_or_many_valued_path_is_refused(path: str, reason: str) -> None:
    with pytest.raises(InvalidPath, match=reason.replace("[", "\\[")):
        parse_path(path)
