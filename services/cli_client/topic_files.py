"""Topics from a CSV or JSON file, as TopicInput documents for POST /api/topics/bulk."""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

PATH_SEPARATOR = ">"
_COLUMNS = {
    "name": "name",
    "parent_category": "parentCategory",
    "parentcategory": "parentCategory",
    "description": "description",
    "external_id": "externalId",
    "externalid": "externalId",
    "cpm": "cpm",
    "path": "path",
}


class TopicFileError(ValueError):
    """The file cannot be read as topics; the message says where."""


class TopicChunks:
    """A file's topics in chunks of `size`, read while the previous chunk is sent, so a CSV of a
    million rows never sits in memory whole. `position` and `total` are bytes, for a progress bar.

    JSON has no streaming parser in the standard library: a `.json` file is read whole (the format
    for small hand-written imports; large taxonomies come as CSV).
    """

    def __init__(self, path: Path, size: int) -> None:
        if path.suffix.lower() not in {".csv", ".json"}:
            msg = f"{path.name}: give a .csv or .json file"
            raise TopicFileError(msg)
        self.path, self.size = path, size
        self.total = path.stat().st_size
        self.position = 0

    def __iter__(self) -> Iterator[list[dict[str, Any]]]:
        if self.path.suffix.lower() == ".json":
            topics = topics_from_json(self.path.read_text(encoding="utf-8-sig"))
            self.position = self.total
            for start in range(0, len(topics), self.size):
                yield topics[start : start + self.size]
            return
        with self.path.open("rb") as raw, io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as text:
            rows = csv_rows(text)
            while chunk := list(itertools.islice(rows, self.size)):
                self.position = raw.tell()  # the reader's read-ahead: close enough for progress
                yield chunk
        self.position = self.total


def topics_from_json(text: str) -> list[dict[str, Any]]:
    """A JSON list of TopicInput objects, or `{"topics": [...]}` as the bulk endpoint takes it."""
    try:
        document = json.loads(text)
    except ValueError as exc:
        msg = f"not JSON: {exc}"
        raise TopicFileError(msg) from exc
    topics = document.get("topics") if isinstance(document, dict) else document
    if not isinstance(topics, list) or not all(isinstance(topic, dict) for topic in topics):
        msg = 'expected a list of topic objects or {"topics": [...]}'
        raise TopicFileError(msg)
    return topics


def topics_from_csv(text: str) -> list[dict[str, Any]]:
    """Every topic of a CSV text (see `csv_rows`)."""
    return list(csv_rows(io.StringIO(text)))


def csv_rows(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """One topic per row, as read; columns name, parent_category, path (`A > B`), description,
    external_id, cpm and `attributes.<key>`; empty cells are left out."""
    reader = csv.DictReader(lines)
    headers = reader.fieldnames or []
    unknown = [h for h in headers if _key(h) not in _COLUMNS and not h.strip().startswith("attributes.")]
    if unknown:
        msg = f"unknown column {unknown[0]!r}; known: {', '.join(sorted(set(_COLUMNS)))}, attributes.<key>"
        raise TopicFileError(msg)
    if "name" not in {_key(h) for h in headers}:
        msg = "the CSV has no name column"
        raise TopicFileError(msg)
    return (_row(row) for row in reader)


def _key(header: str) -> str:
    return header.strip().lower().replace("-", "_")


def _row(row: dict[str, str | None]) -> dict[str, Any]:
    topic: dict[str, Any] = {}
    attributes: dict[str, str] = {}
    for header, raw in row.items():
        value = (raw or "").strip()
        if not value or header is None:
            continue
        if header.strip().startswith("attributes."):
            attributes[header.strip().removeprefix("attributes.")] = value
            continue
        field = _COLUMNS[_key(header)]
        topic[field] = [part.strip() for part in value.split(PATH_SEPARATOR)] if field == "path" else value
    if attributes:
        topic["attributes"] = attributes
    return topic


def locate(field: str, offset: int, *, csv_file: bool) -> str:
    """Where a bulk validation error (`body.topics.<i>.<field>`) is in the file, for a chunk at `offset`."""
    parts = field.split(".")
    if len(parts) >= 3 and parts[:2] == ["body", "topics"] and parts[2].isdigit():
        index = offset + int(parts[2])
        where = f"row {index + 2}" if csv_file else f"topic {index}"  # CSV: the header is row 1
        return ".".join([where, *parts[3:]])
    return field
