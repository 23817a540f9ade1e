"""Rendering a topic through an output template: the guide's field names and money in minor units."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest

from shared.output_templates import OutputTemplate, format_money, render, unknown_fields


@dataclass(frozen=True)
class FakeTopic:
    name: str = "Auto Intenders"
    parent_category: str | None = "Automotive"
    path: list[str] = field(default_factory=lambda: ["Automotive", "Auto Intenders"])
    description: str = "Car shoppers"
    external_id: str | None = "auto-001"
    cpm: Decimal | None = Decimal("1.5000")  # as Postgres gives back numeric(12, 4)
    attributes: dict[str, Any] = field(default_factory=dict)


def test_the_guides_field_names_are_placeholders_and_path_fields() -> None:
    template = OutputTemplate(
        key="acme",
        path_fields=["parent_category", "topic_name"],
        separator=" | ",
        description_template="{{topic_name}} in {{parent_category}} ({{external_id}})",
    )
    segment = render(template, FakeTopic())
    assert segment.name == "Automotive | Auto Intenders"
    assert segment.description == "Auto Intenders in Automotive (auto-001)"
    assert unknown_fields(["topic_name", "parent_category", "external_id", "name", "topicName"]) == [
        "topicName"
    ]


@pytest.mark.parametrize(
    ("currency", "written"),
    [("USD", "1.50"), ("usd", "1.50"), ("JPY", "2"), ("BHD", "1.500"), ("XAU", "1.50"), ("ZZZ", "1.50")],
    ids=["usd", "lower-case", "jpy-no-minor-units", "bhd-three", "gold-none", "unknown-code"],
)
def test_cpm_is_written_with_the_currencys_minor_units(currency: str, written: str) -> None:
    template = OutputTemplate(key="pricing", path_fields=[], name_template="{{topic_name}} @ {{cpm}}")
    assert render(template, FakeTopic(), currency=currency).name == f"Auto Intenders @ {written}"


def test_money_rounds_half_up_and_keeps_whole_amounts_whole() -> None:
    assert format_money(Decimal("1.2350"), "USD") == "1.24"
    assert format_money(Decimal("150.0000"), "JPY") == "150"
    assert format_money(Decimal("2"), "EUR") == "2.00"


def test_stored_names_render_money_as_usd_and_a_missing_cpm_as_nothing() -> None:
    template = OutputTemplate(key="pricing", path_fields=[], name_template="{{name}} @ {{cpm}}")
    assert render(template, FakeTopic()).name == "Auto Intenders @ 1.50"
    assert render(template, FakeTopic(cpm=None)).name == "Auto Intenders @"
