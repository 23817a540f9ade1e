"""Topics from a CSV or JSON file, as TopicInput documents for POST /api/topics/bulk."""

from __future__ import annotations

import csv
import io
import json
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


def read_topics(path: Path) -> list[dict[str, Any]]:
    """The topics of a `.csv` or `.json` file (by extension)."""
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".csv":
        return topics_from_csv(text)
    if path.suffix.lower() == ".json":
        return topics_from_json(text)
    msg = f"{path.name}: give a .csv or .json file"
    raise TopicFileError(msg)


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
    """One topic per row; columns name, parent_category, path (`A > B`), description, external_id, cpm
    and `attributes.<key>`; empty cells are left out."""
    reader = csv.DictReader(io.StringIO(text))
    headers = reader.fieldnames or []
    unknown = [h for h in headers if _key(h) not in _COLUMNS and not h.strip().startswith("attributes.")]
    if unknown:
        msg = f"unknown column {unknown[0]!r}; known: {', '.join(sorted(set(_COLUMNS)))}, attributes.<key>"
        raise TopicFileError(msg)
    if "name" not in {_key(h) for h in headers}:
        msg = "the CSV has no name column"
        raise TopicFileError(msg)
    return [_row(row) for row in reader]


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
