"""Field types every platform's fake validates the same way."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


# Ids and names are at most 255 characters on every platform the page describes.
SegmentName = Annotated[str, StringConstraints(min_length=1, max_length=255), AfterValidator(_not_blank)]
ExternalId = Annotated[str, StringConstraints(min_length=1, max_length=255)]
CurrencyCode = Annotated[str, StringConstraints(min_length=3, max_length=3)]
Price = Annotated[float, Field(ge=0, allow_inf_nan=False)]
