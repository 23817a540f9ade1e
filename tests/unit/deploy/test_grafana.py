"""deploy/grafana/activator.json queries only series the code exports, by labels those series carry.

The metrics are read from the source (every prometheus_client Counter, Gauge, Histogram or Summary
declared in services/ and shared/), so a renamed metric or label turns a panel empty here first.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tests.support.deploy_manifests import REPO, as_mapping

DASHBOARD = REPO / "deploy" / "grafana" / "activator.json"
METRIC_KINDS = {"Counter", "Gauge", "Histogram", "Summary"}
_METRIC_NAME = re.compile(r"\b(activator_[a-z0-9_]+)\b")
_SELECTOR = re.compile(r"\b(activator_[a-z0-9_]+)\s*\{([^}]*)\}")
_MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*"')
_GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")
_LEGEND_LABEL = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")


@dataclass(frozen=True)
class Metric:
    kind: str
    name: str
    labels: frozenset[str]

    def series(self) -> dict[str, frozenset[str]]:
        """The sample names prometheus_client exposes for this metric, with their labels."""
        if self.kind == "Counter":
            base = self.name.removesuffix("_total")
            return {f"{base}_total": self.labels, f"{base}_created": self.labels}
        if self.kind == "Gauge":
            return {self.name: self.labels}
        with_le = self.labels | {"le"} if self.kind == "Histogram" else self.labels | {"quantile"}
        samples = {f"{self.name}_{suffix}": self.labels for suffix in ("sum", "count", "created")}
        samples[f"{self.name}_bucket" if self.kind == "Histogram" else self.name] = with_le
        return samples


def _string_list(node: ast.expr) -> frozenset[str]:
    assert isinstance(node, ast.List | ast.Tuple), ast.dump(node)
    return frozenset(str(ast.literal_eval(element)) for element in node.elts)


def _declared_metrics() -> Iterator[Metric]:
    for path in [*(REPO / "services").rglob("*.py"), *(REPO / "shared").rglob("*.py")]:
        tree = ast.parse(path.read_text(), filename=str(path))
        # Only prometheus_client's classes: collections.Counter shares a name.
        imported = {
            alias.asname or alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module == "prometheus_client"
            for alias in node.names
            if alias.name in METRIC_KINDS
        }
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in imported
            ):
                continue
            if not (
                node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
            ):
                continue
            labels = next((_string_list(kw.value) for kw in node.keywords if kw.arg == "labelnames"), None)
            if labels is None:
                labels = _string_list(node.args[2]) if len(node.args) > 2 else frozenset()
            yield Metric(kind=node.func.id, name=node.args[0].value, labels=labels)


def _exported_series() -> dict[str, frozenset[str]]:
    series: dict[str, frozenset[str]] = {}
    for metric in _declared_metrics():
        series.update(metric.series())
    return series


def _panels(panels: list[Any]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield as_mapping(panel)
        yield from _panels(panel.get("panels", []))


def _dashboard() -> dict[str, Any]:
    return as_mapping(json.loads(DASHBOARD.read_text()))


def _targets() -> Iterator[tuple[str, str, str]]:
    """(panel title, expression, legend format) of every query of the dashboard."""
    for panel in _panels(_dashboard()["panels"]):
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"], target.get("legendFormat", "")


def _variable_queries() -> Iterator[str]:
    for variable in _dashboard()["templating"]["list"]:
        if variable["type"] == "query":
            yield variable["definition"]


def test_the_source_scan_finds_the_metrics() -> None:
    """Guards the scan itself: an empty result would make every check below pass."""
    series = _exported_series()
    assert series["activator_items_pushed_total"] == {"platform", "outcome"}
    assert series["activator_platform_request_seconds_bucket"] == {"platform", "status_class", "le"}
    assert "activator_outbox_lag" in series


def test_every_metric_the_dashboard_queries_is_exported_by_the_code() -> None:
    series = _exported_series()
    queries = [expr for _, expr, _ in _targets()] + list(_variable_queries())
    used = {name for expr in queries for name in _METRIC_NAME.findall(expr)}
    assert used, "the dashboard queries nothing"
    assert sorted(used - set(series)) == []


def test_label_matchers_and_groupings_use_labels_the_series_carry() -> None:
    series = _exported_series()
    for title, expr, legend in _targets():
        # Unknown metric names are the previous test's finding; here they carry no labels.
        for name, matchers in _SELECTOR.findall(expr):
            for label in _MATCHER.findall(matchers):
                assert label in series.get(name, ()), f"{title}: {name} has no label {label!r}"
        available = frozenset().union(*(series.get(name, frozenset()) for name in _METRIC_NAME.findall(expr)))
        groupings = [
            {label.strip() for label in group.split(",") if label.strip()}
            for group in _GROUPING.findall(expr)
        ]
        for grouping in groupings:
            assert grouping <= available, (
                f"{title}: grouping by {sorted(grouping - available)}, not labels of {expr}"
            )
        if groupings:
            # The outermost aggregation decides which labels a legend can show.
            kept = groupings[0] - {"le"}
            for label in _LEGEND_LABEL.findall(legend):
                assert label in kept, f"{title}: the legend shows {{{{{label}}}}}, which `{expr}` drops"
    for query in _variable_queries():
        match = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", query)
        assert match, query
        assert match.group(2) in series[match.group(1)], query


def test_every_panel_reads_the_chosen_prometheus_data_source() -> None:
    dashboard = _dashboard()
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    ids = []
    for panel in _panels(dashboard["panels"]):
        ids.append(panel["id"])
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
            assert panel["targets"], panel["title"]
    assert len(ids) == len(set(ids)), "panel ids repeat: Grafana would mix their settings up"


def test_ratios_show_zero_when_there_is_nothing() -> None:
    """Without traffic a ratio is 0/0 or has no series at all: the panel must say 0, not "No data"."""
    ratios = [(title, expr) for title, expr, _ in _targets() if " / " in expr]
    assert ratios, "the dashboard has no ratio panels any more: drop this test"
    for title, expr in ratios:
        assert "clamp_min(" in expr, f"{title}: 0/0 is NaN, not 0"
        assert expr.endswith(" or vector(0)"), f"{title}: an empty numerator shows No data"


def test_every_declared_metric_is_fed_somewhere() -> None:
    """A metric declared and charted but never incremented looks like an idle system, not a bug."""
    sources = {
        path: path.read_text() for root in ("services", "shared") for path in (REPO / root).rglob("*.py")
    }
    declared = re.compile(r"^([A-Z_]+) = (?:" + "|".join(METRIC_KINDS) + r")\(", re.MULTILINE)
    names = {name for text in sources.values() for name in declared.findall(text)}
    assert {"SYNC_RECORDS", "ITEMS_PUSHED", "REQUESTS"} <= names
    fed = re.compile(r"\b(" + "|".join(names) + r")\.(?:labels|inc|dec|set|observe|time)\(")
    used = {name for text in sources.values() for name in fed.findall(text)}
    assert sorted(names - used) == []
