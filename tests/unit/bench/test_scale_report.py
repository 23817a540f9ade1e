"""The scale scenario's rows in the printed table: both pushes, and each Activator service's peak
against its peak at a tenth of the size."""

from __future__ import annotations

from bench.report import table


def test_the_table_shows_both_pushes_and_each_services_peak_and_growth_but_not_the_mocks() -> None:
    scale = {
        "topics": 200_000,
        "tenth_topics": 20_000,
        "push_items_per_s": {"dry_run": 4469.1, "real": 293.5},
        "peak_rss_mb": {"push-worker": 106.5, "gateway": 139.7, "mock-platforms": 265.3},
        "tenth_peak_rss_mb": {"push-worker": 103.3, "gateway": 139.5, "mock-platforms": 106.3},
        "rss_growth_ratio_by_service": {"push-worker": 1.031, "gateway": 1.001, "mock-platforms": 2.496},
    }
    rows = [line for line in table({"scale": scale}).splitlines() if "Scale" in line]
    assert "real 293.5" in rows[0]
    assert "dry run 4,469.1" in rows[0]
    [worker] = [row for row in rows if "push-worker" in row]
    assert "106.5 MB" in worker
    assert "20,000: 103.3 MB" in worker
    assert "1.03x" in worker
    assert any("gateway" in row for row in rows)
    assert not any("mock-platforms" in row for row in rows)
