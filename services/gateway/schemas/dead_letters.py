"""Dead letters as the API shows them: where a message failed, why, and what it carried."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from services.gateway.schemas.base import ApiModel


class DeadLetterOut(ApiModel):
    id: str = Field(description="`<partition>-<offset>` on the dead-letter topic")
    partition: int
    offset: int
    source_topic: str
    error_type: str
    error: str
    attempts: int
    failed_at: datetime
    headers: dict[str, str] = Field(description="The original message's headers; credentials redacted")
    body: str = Field(description="The original message's value as text (truncated)")
    replay_of: str | None = Field(
        default=None, description="The dead letter this message was a replay of, when it failed again"
    )


class DeadLetterPage(ApiModel):
    items: list[DeadLetterOut] = Field(description="The org's dead letters, newest first")
    scanned: int = Field(description="How many dead letters of every org were read to find these")
    truncated: bool = Field(description="True when the topic held more than the gateway reads at once")


class DeadLetterReplayed(ApiModel):
    id: str
    topic: str = Field(description="The topic the original message was published to again")
