"""The chart's monitoring: alert rules (PrometheusRule, rules ConfigMap, plain file) and
the Grafana dashboard, checked with the real tools: helm, promtool, kubernetes-validate.

promtool comes from Debian's prometheus package (scripts/install-prometheus.sh puts it
at ./.tools/promtool); without it these tests skip, except under ``make test``
(``RECORDER_REQUIRE_PROMETHEUS=1``), where they fail.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import SchemaNotFoundError

from recorder.api.service import ApiMetrics
from recorder.obs.metrics import Metrics
from recorder.services.organizations import OrganizationsFollower
from recorder.settings import Settings
from tests.tools import require_tool
from tests.unit.helm.conftest import CHART, NAMESPACE, RELEASE, REPO, Helm, Rendered
from tests.unit.helm.test_chart import notes

RULES = REPO / "monitoring" / "recorder.rules.yml"
RULES_TESTS = REPO / "monitoring" / "recorder.rules.test.yml"
DASHBOARD = CHART / "dashboards" / "recorder.json"
RUNBOOK = REPO / "docs" / "runbook.md"
OPERATOR = ["--api-versions", "monitoring.coreos.com/v1"]
KUBERNETES = "1.31.0"
FULL = f"{RELEASE}-recorder"


@pytest.fixture(scope="module")
def promtool() -> str:
    return require_tool("promtool")


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, env=env, check=False)


def alerts(groups: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["alert"]: r for g in groups for r in g["rules"] if "alert" in r}


def file_groups() -> list[dict[str, Any]]:
    return yaml.safe_load(RULES.read_text())["groups"]


# --- one source: the template; the committed files are renders of it --------------------


def test_the_plain_rules_file_is_a_fresh_render_of_the_chart(helm: Helm) -> None:
    proc = run(sys.executable, str(REPO / "scripts" / "render-rules.py"), "--check", env=helm.env)
    assert proc.returncode == 0, proc.stderr


def test_the_dashboard_json_is_a_fresh_render(helm: Helm) -> None:
    proc = run(sys.executable, str(REPO / "scripts" / "render-dashboard.py"), "--check")
    assert proc.returncode == 0, proc.stderr


def test_prometheus_rule_configmap_and_file_hold_the_same_rules(render: Any) -> None:
    rendered = render(
        {"monitoring": {"rules": {"prometheusRule": True, "configMap": True}}},
    )
    rule = rendered.get("PrometheusRule", FULL)
    plain = yaml.safe_load(rendered.get("ConfigMap", f"{FULL}-rules")["data"]["recorder.rules.yml"])
    assert rule["spec"] == {"groups": plain["groups"]}
    # the file differs only by its selector
    release = (
        f'namespace="{NAMESPACE}",'
        f'job=~"{FULL}-(api|router|writer|digester|insights|aggregation)-metrics"'
    )
    as_file = json.loads(
        json.dumps(plain["groups"]).replace(json.dumps(release)[1:-1], 'job=\\"recorder\\"')
    )
    assert as_file == file_groups()


# --- when the chart renders them --------------------------------------------------------


def monitoring_objects(rendered: Rendered) -> list[str]:
    return sorted(
        n
        for n in rendered.names()
        if n in {f"PrometheusRule/{FULL}", f"ConfigMap/{FULL}-dashboard", f"ConfigMap/{FULL}-rules"}
    )


def test_without_the_operator_crds_nothing_is_rendered(default: Rendered) -> None:
    assert monitoring_objects(default) == []


def test_with_the_operator_crds_the_rules_and_dashboard_are_on_by_default(helm: Helm) -> None:
    rendered = helm.template(None, *OPERATOR)
    assert monitoring_objects(rendered) == [f"ConfigMap/{FULL}-dashboard", f"PrometheusRule/{FULL}"]


@pytest.mark.parametrize(
    ("values", "operator", "expected"),
    [
        ({"rules": {"prometheusRule": False}, "dashboard": {"enabled": False}}, True, []),
        ({"rules": {"prometheusRule": True}}, False, [f"PrometheusRule/{FULL}"]),
        ({"rules": {"configMap": True}}, False, [f"ConfigMap/{FULL}-rules"]),
        ({"dashboard": {"enabled": True}}, False, [f"ConfigMap/{FULL}-dashboard"]),
    ],
)
def test_switches(helm: Helm, values: dict[str, Any], operator: bool, expected: list[str]) -> None:
    rendered = helm.template({"monitoring": values}, *(OPERATOR if operator else []))
    assert monitoring_objects(rendered) == expected


def test_labels_selector_interval_and_alert_labels_reach_the_rules(helm: Helm) -> None:
    rendered = helm.template(
        {
            "monitoring": {
                "selector": 'cluster="eu1",job="audit"',
                "runbookUrl": "https://wiki.example.com/recorder/runbook.md",
                "rules": {
                    "labels": {"release": "kube-prometheus-stack"},
                    "interval": "30s",
                    "alertLabels": {"team": "audit"},
                },
                "alerts": {"trailParkedAfter": 1800, "trailParkedFor": "2m"},
            }
        },
        *OPERATOR,
    )
    rule = rendered.get("PrometheusRule", FULL)
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert rule["metadata"]["namespace"] == NAMESPACE
    groups = rule["spec"]["groups"]
    assert {g["interval"] for g in groups} == {"30s"}
    parked = alerts(groups)["RecorderTrailDeliveryParked"]
    assert parked["expr"] == (
        "max by (namespace, trail_arn, kind, error) (\n"
        '  recorder_writer_parked_trail_age_seconds{cluster="eu1",job="audit"}\n'
        ") > 1800"
    )
    assert parked["for"] == "2m"
    assert parked["labels"] == {"severity": "warning", "team": "audit"}
    assert parked["annotations"]["runbook_url"] == (
        "https://wiki.example.com/recorder/runbook.md#recordertraildeliveryparked"
    )
    for alert in alerts(groups).values():
        assert 'cluster="eu1",job="audit"' in alert["expr"], alert["alert"]
        assert "namespace=" not in alert["expr"], alert["alert"]


def test_the_lag_alert_follows_the_cut_interval(render: Any) -> None:
    rendered = render(
        {"config": {"cutInterval": 60}, "monitoring": {"rules": {"prometheusRule": True}}}
    )
    lag = alerts(rendered.get("PrometheusRule", FULL)["spec"]["groups"])[
        "RecorderConsumerLagGrowing"
    ]
    assert lag["for"] == "60s"
    assert "[60s]" in lag["expr"]


def test_dashboard_configmap_carries_the_sidecar_label_and_the_json(helm: Helm) -> None:
    rendered = helm.template(
        {
            "monitoring": {
                "dashboard": {
                    "namespace": "grafana",
                    "annotations": {"grafana_folder": "Audit"},
                }
            }
        },
        *OPERATOR,
    )
    cm = rendered.get("ConfigMap", f"{FULL}-dashboard")
    assert cm["metadata"]["namespace"] == "grafana"
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert cm["metadata"]["annotations"] == {"grafana_folder": "Audit"}
    assert json.loads(cm["data"]["recorder.json"]) == json.loads(DASHBOARD.read_text())


# --- validity with the real tools ------------------------------------------------------


def test_promtool_checks_the_rules_file(promtool: str) -> None:
    proc = run(promtool, "check", "rules", str(RULES))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"SUCCESS: {len(alerts(file_groups()))} rules found" in proc.stdout


def test_promtool_unit_tests_pass_and_cover_every_alert(promtool: str) -> None:
    tested = {
        case["alertname"]
        for t in yaml.safe_load(RULES_TESTS.read_text())["tests"]
        for case in t.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    silent = {
        case["alertname"]
        for t in yaml.safe_load(RULES_TESTS.read_text())["tests"]
        for case in t.get("alert_rule_test", [])
        if not case.get("exp_alerts")
    }
    assert set(alerts(file_groups())) == tested, "every alert needs a firing case"
    assert set(alerts(file_groups())) == silent, "every alert needs a silent case"
    proc = run(promtool, "test", "rules", str(RULES_TESTS))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def test_rendered_objects_pass_kubernetes_validate_strict_and_promtool(
    helm: Helm, promtool: str, tmp_path: Path
) -> None:
    rendered = helm.template({"monitoring": {"rules": {"configMap": True}}}, *OPERATOR)
    for name in (f"{FULL}-dashboard", f"{FULL}-rules"):
        cm = rendered.get("ConfigMap", name)
        assert kubernetes_validate.validate(cm, KUBERNETES, strict=True) == "1.31"
    rule = rendered.get("PrometheusRule", FULL)
    # kubernetes-validate has Kubernetes' own kinds only, no Prometheus Operator CRDs:
    with pytest.raises(SchemaNotFoundError):
        kubernetes_validate.validate(rule, KUBERNETES, strict=True)
    # so the metadata is checked as the ObjectMeta all kinds share, the spec by promtool
    as_meta = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": rule["metadata"]}
    assert kubernetes_validate.validate(as_meta, KUBERNETES, strict=True) == "1.31"
    assert set(rule) == {"apiVersion", "kind", "metadata", "spec"}
    assert set(rule["spec"]) == {"groups"}
    path = tmp_path / "rule.yml"
    path.write_text(yaml.safe_dump(rule["spec"]))
    proc = run(promtool, "check", "rules", str(path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # and a strict object check of a bad render fails, so the pass above means something
    bad = {**rendered.get("ConfigMap", f"{FULL}-dashboard"), "spec": {}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBERNETES, strict=True)


# --- alerts, runbook and metrics agree -------------------------------------------------


def runbook_anchors() -> set[str]:
    """GitHub's anchors of the runbook's headings."""
    return {
        re.sub(r"[^a-z0-9 -]", "", m.group(1).strip().lower()).replace(" ", "-")
        for m in re.finditer(r"^#{1,6} (.+)$", RUNBOOK.read_text(), re.M)
    }


def test_every_alert_links_its_own_runbook_section() -> None:
    anchors = runbook_anchors()
    for name, alert in alerts(file_groups()).items():
        url = alert["annotations"]["runbook_url"]
        assert url == f"docs/runbook.md#{name.lower()}"
        assert name.lower() in anchors, f"docs/runbook.md has no section {name}"
        assert set(alert["annotations"]) == {"summary", "description", "runbook_url"}
        assert alert["labels"]["severity"] in {"warning", "critical"}


def test_the_runbook_documents_no_alert_that_does_not_exist() -> None:
    documented = set(re.findall(r"^## (Recorder\w+)$", RUNBOOK.read_text(), re.M))
    assert documented == set(alerts(file_groups()))


def exported() -> set[str]:
    """Every series name recorder's processes export (histograms: their _bucket)."""
    m = Metrics()
    ApiMetrics.on(m)  # the families defined next to their one user
    OrganizationsFollower(Settings(), registry=None, metrics=m)
    names = {"up"}
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}
    for family in m.registry.collect():
        names |= {family.name + s for s in suffixes.get(family.type, [""])}
    return names


def referenced(expr: str) -> set[str]:
    return set(re.findall(r"\b(recorder_[a-z_]+|up)\b(?=\s*[{\[)])", expr))


def test_rules_and_dashboard_use_only_metrics_that_exist() -> None:
    names = exported()
    exprs = [a["expr"] for a in alerts(file_groups()).values()]
    dashboard = json.loads(DASHBOARD.read_text())
    exprs += [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    used = set().union(*(referenced(e) for e in exprs))
    assert used - names == set()
    assert len(used) > 30


def test_notes_name_the_alerts_and_warn_when_nothing_scrapes_them(
    helm: Helm, tmp_path: Path
) -> None:
    text = notes(helm, tmp_path / "a", None, *OPERATOR)
    assert f"Alerts: PrometheusRule {FULL}; what to do for each: docs/runbook.md" in text
    assert "WARNING: the ServiceMonitor is off" in text
    assert f"Dashboard: ConfigMap {FULL}-dashboard" in text
    scraped = notes(
        helm, tmp_path / "b", {"metrics": {"serviceMonitor": {"enabled": True}}}, *OPERATOR
    )
    assert "Alerts: PrometheusRule" in scraped
    assert "WARNING" not in scraped
    assert "Alerts:" not in notes(helm, tmp_path / "c")
