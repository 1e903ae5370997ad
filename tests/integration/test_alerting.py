"""Issue 30 acceptance with a real Prometheus server (Debian's package, from
scripts/install-prometheus.sh): it scrapes a running recorder (``recorder run api`` and
``recorder run router writer``, as the chart deploys them) and evaluates the alert
rules the chart renders. One tenant's bucket is deleted: RecorderTrailDeliveryParked
goes to ``firing`` with that trail's ARN and the error, while the other tenant's
trail keeps delivering and raises nothing; once the bucket is back the parked batch
is delivered and the alert goes back to inactive.

Only the timing is shortened, through the chart's values, as an operator would:
the parked age that fires it (3 s instead of 10 min), its ``for`` (2 s instead of
1 min) and the evaluation interval (1 s). What is asserted is what an operator's
Alertmanager would receive.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from recorder.stack.local import LocalStack
from recorder.stack.processes import free_port, stop_group
from tests.integration.helpers import (
    RecorderProcess,
    aws,
    cloudtrail_bucket,
    read_log_files,
    wait_for,
)
from tests.integration.test_api import BOB_KEY, BOB_SECRET, cloudtrail, start_api
from tests.tools import REPO, find_tool, require_tool

pytestmark = pytest.mark.integration

ALERT = "RecorderTrailDeliveryParked"
BROKEN = "alerting-broken-logs"
HEALTHY = "alerting-healthy-logs"
#: test timing, through the chart's values (the defaults: 600 s, 1m, the global interval)
VALUES = [
    "monitoring.alerts.trailParkedAfter=3",
    "monitoring.alerts.trailParkedFor=2s",
    "monitoring.rules.interval=1s",
]


class Prometheus:
    """A real Prometheus server on a free loopback port, in its own process group."""

    def __init__(self, binary: str, work: Path, targets: list[str], rules: Path) -> None:
        self.port = free_port()
        self.work = work
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(rules)],
            "scrape_configs": [{"job_name": "recorder", "static_configs": [{"targets": targets}]}],
        }
        (work / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.log = work / "prometheus.log"
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    binary,
                    f"--config.file={work / 'prometheus.yml'}",
                    f"--storage.tsdb.path={work / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def get(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        url = f"http://127.0.0.1:{self.port}{path}{query}"
        with urllib.request.urlopen(url, timeout=5) as r:
            body = json.loads(r.read())
        assert body["status"] == "success", body
        return body["data"]

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"prometheus exited: {self.log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=1) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def query(self, expr: str) -> list[dict[str, Any]]:
        return list(self.get("/api/v1/query", query=expr)["result"])

    def alerts(self, name: str | None = None) -> list[dict[str, Any]]:
        every = self.get("/api/v1/alerts")["alerts"]
        return [a for a in every if name is None or a["labels"]["alertname"] == name]

    def rule_state(self, name: str) -> str:
        for group in self.get("/api/v1/rules", type="alert")["groups"]:
            for rule in group["rules"]:
                if rule["name"] == name:
                    return str(rule["state"])
        raise AssertionError(f"prometheus has no rule {name}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            stop_group(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                stop_group(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def render_rules(out: Path) -> Path:
    """The chart's rules with the test timing, selecting the scrape job "recorder"."""
    helm = require_tool("helm")
    env = {**os.environ, "PATH": f"{Path(helm).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    args = [sys.executable, str(REPO / "scripts" / "render-rules.py"), "--out", str(out)]
    for value in VALUES:
        args += ["--set", value]
    subprocess.run(args, check=True, env=env, capture_output=True, timeout=60)
    return out


@pytest.fixture
def prometheus_binary() -> str:
    require_tool("prometheus")
    binary = find_tool("prometheus")
    assert binary is not None
    return binary


@pytest.fixture
def processes(
    stack: LocalStack, tmp_path: Path
) -> Iterator[tuple[RecorderProcess, int, RecorderProcess]]:
    api, port = start_api(stack, tmp_path / "api")
    pipeline: RecorderProcess | None = None
    try:
        pipeline = RecorderProcess(
            stack,
            ["router", "writer"],
            tmp_path / "pipeline",
            # a repaired destination is retried within 2 s (production: up to 300 s)
            env={"RECORDER_PARK_RETRY_BASE": "0.5", "RECORDER_PARK_RETRY_MAX": "2"},
        ).start()
        yield api, port, pipeline
    finally:
        if pipeline is not None:
            pipeline.kill()
        api.kill()


def delete_bucket(s3: Any, bucket: str) -> None:
    """Empty and delete it as a user would, while the recorder may still write to it."""

    def gone() -> bool:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                s3.delete_object(Bucket=bucket, Key=obj["Key"])
        try:
            s3.delete_bucket(Bucket=bucket)
        except s3.exceptions.ClientError as exc:
            if exc.response["Error"]["Code"] == "BucketNotEmpty":
                return False
            raise
        return True

    wait_for(gone, timeout=30, what=f"{bucket} deleted")


def test_a_deleted_bucket_fires_the_parked_alert_with_the_trail_arn_then_resolves(
    stack: LocalStack,
    tmp_path: Path,
    processes: tuple[RecorderProcess, int, RecorderProcess],
    prometheus_binary: str,
) -> None:
    api, port, pipeline = processes
    s3 = aws(stack, "s3")
    cloudtrail_bucket(s3, BROKEN)
    cloudtrail_bucket(s3, HEALTHY)
    alice = cloudtrail(port)
    bob = cloudtrail(port, key=BOB_KEY, secret=BOB_SECRET)
    broken = alice.create_trail(Name="alerting", S3BucketName=BROKEN)["TrailARN"]
    healthy = bob.create_trail(Name="alerting", S3BucketName=HEALTHY)["TrailARN"]
    alice.start_logging(Name=broken)
    bob.start_logging(Name=healthy)

    rules = render_rules(tmp_path / "recorder.rules.yml")
    targets = [f"127.0.0.1:{api.metrics_port}", f"127.0.0.1:{pipeline.metrics_port}"]
    (tmp_path / "prometheus").mkdir()
    prom = Prometheus(prometheus_binary, tmp_path / "prometheus", targets, rules)
    try:
        wait_for(prom.ready, timeout=30, what="prometheus ready")
        wait_for(
            lambda: len(prom.query('up{job="recorder"} == 1')) == 2,
            timeout=30,
            what="both recorder processes scraped",
        )
        ready = prom.query('recorder_service_ready{job="recorder"}')
        assert {r["metric"]["service"] for r in ready} >= {"api", "router", "writer"}
        assert all(r["value"][1] == "1" for r in ready)
        assert prom.rule_state(ALERT) == "inactive"

        # the broken tenant's bucket goes; both tenants keep calling (each call is a
        # management event for their own trail)
        delete_bucket(s3, BROKEN)
        healthy_files_before = len(read_log_files(stack, HEALTHY))

        def firing() -> list[dict[str, Any]]:
            alice.get_trail_status(Name=broken)
            bob.get_trail_status(Name=healthy)
            return [a for a in prom.alerts(ALERT) if a["state"] == "firing"]

        (alert,) = wait_for(firing, timeout=60, what=f"{ALERT} firing")
        assert alert["labels"] == {
            "alertname": ALERT,
            "severity": "warning",
            "trail_arn": broken,
            "kind": "file",
            "error": "NoSuchBucket",
        }
        assert alert["annotations"]["summary"].startswith(
            f"Trail {broken}: log files not delivered for "
        )
        assert alert["annotations"]["summary"].endswith(" (NoSuchBucket)")
        assert f"get-trail-status --name {broken}" in alert["annotations"]["description"]
        assert alert["annotations"]["runbook_url"] == "docs/runbook.md#recordertraildeliveryparked"
        # nothing else fires (the API's own calls are recorded, nothing dead-lettered)
        assert {a["labels"]["alertname"] for a in prom.alerts() if a["state"] == "firing"} == {
            ALERT
        }
        # the healthy tenant is unaffected: no alert, its files keep arriving
        assert all(a["labels"]["trail_arn"] == broken for a in prom.alerts(ALERT))
        wait_for(
            lambda: (
                bob.get_trail_status(Name=healthy) is not None
                and len(read_log_files(stack, HEALTHY)) > healthy_files_before
            ),
            timeout=30,
            what="the healthy trail's log files while the other is parked",
        )
        assert alice.get_trail_status(Name=broken)["LatestDeliveryError"] == "NoSuchBucket"

        # every dashboard query is valid PromQL against this server, and the parked
        # table names the broken trail
        dashboard = json.loads((REPO / "helm/recorder/dashboards/recorder.json").read_text())
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                expr = (
                    target["expr"]
                    .replace("$__rate_interval", "15s")
                    .replace("$__range", "1m")
                    .replace("$namespace", ".*")
                    .replace("$job", "recorder")
                    .replace("$top", "5")
                )
                prom.query(expr)  # asserts status success
        parked = prom.query(
            'topk(5, max by (trail_arn, kind, error) (recorder_writer_parked_trail_age_seconds{job="recorder"}))'
        )
        assert [r["metric"]["trail_arn"] for r in parked] == [broken]

        # repair: the tenant re-creates the bucket; the parked batch is delivered and
        # the alert resolves
        cloudtrail_bucket(s3, BROKEN)
        wait_for(
            lambda: not prom.alerts(ALERT) and prom.rule_state(ALERT) == "inactive",
            timeout=60,
            what=f"{ALERT} back to inactive",
        )
        assert read_log_files(stack, BROKEN), "the parked batch was delivered"
        delivered = {
            r["metric"]["trail_arn"]: float(r["value"][1])
            for r in prom.query('recorder_writer_delivered_events_total{job="recorder"}')
        }
        assert delivered[healthy] > 0
        wait_for(
            lambda: any(
                float(r["value"][1]) > 0
                for r in prom.query(
                    f'recorder_writer_delivered_events_total{{job="recorder",trail_arn="{broken}"}}'
                )
            ),
            timeout=15,
            what="the repaired trail's delivered events scraped",
        )
        assert prom.query('recorder_writer_parked_trail_age_seconds{job="recorder"}') == []
        assert [a for a in prom.alerts() if a["state"] == "firing"] == []
    finally:
        prom.stop()
