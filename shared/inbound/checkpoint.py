"""Where a sync run stands, saved with every page so a redelivered command resumes there."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SyncCheckpoint(BaseModel):
    """The position after the last committed page, and what the pager's guards remember."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    page: int = Field(default=0, ge=0)  # pages committed so far
    offset: int = Field(default=0, ge=0)  # next offset (offset paging)
    cursor: str | None = None  # next cursor (cursor paging); None before the first page
    done: bool = False  # the pager saw the last page
    fetched: int = Field(default=0, ge=0)  # records received, duplicates included
    empty_streak: int = Field(default=0, ge=0)  # empty pages in a row that still named a next cursor
    last_page_hash: str | None = None
    recent_cursors: tuple[str, ...] = ()  # digests of the cursors used lately, to catch loops
    since: str | None = None  # the high-water mark this run asks the source from (incremental)
    high_water_mark: str | None = None  # the largest incremental_field value seen in this run

    def position(self, pagination_type: str) -> str:
        """The page's place for messages: `offset 3000` or `cursor …`."""
        if pagination_type == "offset":
            return f"offset {self.offset}"
        if self.cursor is None:
            return "first cursor page"
        shown = self.cursor if len(self.cursor) <= 40 else self.cursor[:39] + "…"
        return f"cursor {shown!r}"
