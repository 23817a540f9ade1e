"""deploy/prometheus: the alert rules load in Prometheus, behave as their unit tests say (promtool), query
only series the code exports, and ship unchanged as the PrometheusRule of deploy/k8s."""

from __future__ import annotations

import re
import subprocess
from typing import Any

import pytest
import yaml

from tests.support.deploy_manifests import REPO, as_mapping
from tests.support.promtool import ensure_promtool
from tests.unit.deploy.test_grafana import _exported_series

RULES = REPO / "deploy" / "prometheus" / "activator-rules.yaml"
RULE_TESTS = REPO / "deploy" / "prometheus" / "activator-rules.test.yaml"
PROMETHEUS_RULE = REPO / "deploy" / "k8s" / "base" / "prometheus-rule.yaml"
_METRIC_NAME = re.compile(r"\b(activator_[a-z0-9_]+)\b")


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    try:
        promtool = ensure_promtool()
    except RuntimeError as exc:
        pytest.fail(f"promtool is needed to test the alert rules: {exc}")
    return subprocess.run(
        [str(promtool), *args], cwd=RULES.parent, capture_output=True, text=True, check=False, timeout=120
    )


def _rules() -> list[dict[str, Any]]:
    groups = as_mapping(yaml.safe_load(RULES.read_text()))["groups"]
    return [as_mapping(rule) for group in groups for rule in group["rules"]]


def test_prometheus_loads_the_rules() -> None:
    checked = _promtool("check", "rules", RULES.name)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_every_alert_fires_and_stays_quiet_as_its_unit_tests_say() -> None:
    tested = _promtool("test", "rules", RULE_TESTS.name)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    cases = as_mapping(yaml.safe_load(RULE_TESTS.read_text()))["tests"]
    covered = {check["alertname"] for case in cases for check in case["alert_rule_test"]}
    assert covered == {rule["alert"] for rule in _rules()}, "an alert without a promtool test"


def test_the_operators_would_hear_of_each_failure_mode() -> None:
    queried = {rule["alert"]: set(_METRIC_NAME.findall(rule["expr"])) for rule in _rules()}
    watched = set().union(*queried.values())
    for metric in (
        "activator_consumer_lag",
        "activator_dlq_messages_total",
        "activator_runs_abandoned_total",
        "activator_items_pushed_total",
        "activator_platform_throttled_seconds_total",
        "activator_outbox_oldest_age_seconds",
        "activator_open_run_oldest_age_seconds",
        "activator_activations_pending_review_oldest_age_seconds",
    ):
        assert metric in watched, f"no alert watches {metric}"
    for rule in _rules():
        assert rule["labels"]["severity"] in {"info", "warning", "critical"}, rule["alert"]
        assert {"summary", "description"} <= set(rule["annotations"]), rule["alert"]


def test_rules_query_only_series_the_code_exports() -> None:
    series = _exported_series()
    for rule in _rules():
        unknown = set(_METRIC_NAME.findall(rule["expr"])) - set(series)
        assert not unknown, f"{rule['alert']} queries {unknown}, which nothing exports"


def test_the_prometheus_rule_ships_the_same_groups() -> None:
    resource = as_mapping(yaml.safe_load(PROMETHEUS_RULE.read_text()))
    assert (resource["apiVersion"], resource["kind"]) == ("monitoring.coreos.com/v1", "PrometheusRule")
    assert resource["spec"]["groups"] == as_mapping(yaml.safe_load(RULES.read_text()))["groups"]
