"""New topics' replication: what the cluster allows when unset (up to 3 replicas, one fewer in sync so a
broker can be lost), the settings when given."""

from __future__ import annotations

import pytest

from shared.messaging.kafka import topic_replication
from shared.settings import Settings


@pytest.mark.parametrize(
    ("brokers", "expected"), [(1, (1, 1)), (2, (2, 1)), (3, (3, 2)), (5, (3, 2)), (0, (1, 1))]
)
def test_unset_replication_follows_the_cluster(brokers: int, expected: tuple[int, int]) -> None:
    assert topic_replication(Settings(), brokers) == expected


def test_explicit_settings_win_over_the_cluster() -> None:
    settings = Settings(kafka_replication_factor=2, kafka_min_insync_replicas=2)
    assert topic_replication(settings, 5) == (2, 2)
    assert topic_replication(Settings(kafka_replication_factor=3), 3) == (3, 2)
    assert topic_replication(Settings(kafka_min_insync_replicas=1), 3) == (3, 1)


def test_replication_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_REPLICATION_FACTOR", "3")
    monkeypatch.setenv("KAFKA_MIN_INSYNC_REPLICAS", "2")
    settings = Settings()
    assert (settings.kafka_replication_factor, settings.kafka_min_insync_replicas) == (3, 2)
    monkeypatch.delenv("KAFKA_REPLICATION_FACTOR")
    assert Settings().kafka_replication_factor is None
