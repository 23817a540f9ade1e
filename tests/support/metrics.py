"""Reading a service's /metrics page in tests."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def prometheus_sample(text: str, name: str, **labels: str) -> float:
    """The value of the first sample `name` whose labels include `labels` (0 when there is none)."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(key) == value for key, value in labels.items()):
                return float(sample.value)
    return 0.0
