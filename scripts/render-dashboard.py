#!/usr/bin/env python3
"""Render helm/recorder/dashboards/recorder.json, the Grafana dashboard, from this file.

The chart ships the JSON in a ConfigMap labelled for Grafana's dashboard sidecar
(templates/dashboard-configmap.yaml); Grafana without the sidecar imports the file
as it is. Per-tenant panels show the top ``$top`` trails only (5, 10 or 20), over
the whole time range, so the legend stays bounded however many tenants there are.

    scripts/render-dashboard.py            # write the JSON
    scripts/render-dashboard.py --check    # exit 1 when the committed JSON is stale
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "helm" / "recorder" / "dashboards" / "recorder.json"
UID = "recorder-overview"

#: The series of the release the dashboard's variables select.
S = 'namespace=~"$namespace",job=~"$job"'
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
RATE = "$__rate_interval"


def rate(metric: str, by: str = "", matchers: str = "") -> str:
    sel = f"{{{S}{',' + matchers if matchers else ''}}}"
    grouping = f" by ({by})" if by else ""
    return f"sum{grouping} (rate({metric}{sel}[{RATE}]))"


def top(metric: str, matchers: str = "") -> str:
    """Per-trail rate of the ``$top`` trails with the most over the time range."""
    sel = f'{{{S},trail_arn!="other"{"," + matchers if matchers else ""}}}'
    return (
        f"sum by (trail_arn) (rate({metric}{sel}[{RATE}]))\n"
        f"and on (trail_arn)\n"
        f"topk($top, sum by (trail_arn) (increase({metric}{sel}[$__range] @ end())))"
    )


def quantiles(metric: str, by: str = "") -> list[tuple[str, str]]:
    extra = f", {by}" if by else ""
    legend = f"{{{{{by}}}}} " if by else ""
    return [
        (
            f"histogram_quantile({q}, sum by (le{extra}) (rate({metric}_bucket{{{S}}}[{RATE}])))",
            f"{legend}p{int(q * 100)}",
        )
        for q in (0.5, 0.95, 0.99)
    ]


class Layout:
    """Panels left to right, rows of height ``h``, in a 24-column grid."""

    def __init__(self) -> None:
        self.panels: list[dict[str, Any]] = []
        self.x = 0
        self.y = 0
        self.h = 0
        self.next_id = 1

    def row(self, title: str) -> None:
        self._newline()
        self.panels.append(
            {
                "type": "row",
                "id": self._id(),
                "title": title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y},
                "panels": [],
            }
        )
        self.y += 1

    def panel(
        self,
        kind: str,
        title: str,
        targets: list[tuple[str, str]],
        *,
        w: int,
        h: int = 8,
        unit: str = "short",
        description: str = "",
        instant: bool = False,
        options: dict[str, Any] | None = None,
    ) -> None:
        if self.x + w > 24:
            self._newline()
        panel: dict[str, Any] = {
            "type": kind,
            "id": self._id(),
            "title": title,
            "description": description,
            "datasource": DATASOURCE,
            "gridPos": {"h": h, "w": w, "x": self.x, "y": self.y},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "options": options or {},
            "targets": [
                {
                    "datasource": DATASOURCE,
                    "expr": expr,
                    "legendFormat": legend,
                    "refId": chr(ord("A") + i),
                    **({"instant": True, "range": False, "format": "table"} if instant else {}),
                }
                for i, (expr, legend) in enumerate(targets)
            ],
        }
        self.panels.append(panel)
        self.x += w
        self.h = max(self.h, h)

    def _newline(self) -> None:
        if self.x:
            self.y += self.h
        self.x, self.h = 0, 0

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id - 1


def panels() -> list[dict[str, Any]]:
    p = Layout()
    stat = {"reduceOptions": {"calcs": ["lastNotNull"]}, "colorMode": "value"}

    p.row("Overview")
    p.panel(
        "stat",
        "Trails parked now",
        [
            (
                f"count(max by (trail_arn) (recorder_writer_parked_trail_age_seconds{{{S}}})) or vector(0)",
                "",
            )
        ],
        w=4,
        h=4,
        description="Trails whose log files or notices cannot be delivered (RecorderTrailDeliveryParked).",
        options=stat,
    )
    p.panel(
        "stat",
        "Oldest parked",
        [(f"max(recorder_writer_oldest_parked_age_seconds{{{S}}})", "")],
        w=4,
        h=4,
        unit="s",
        options=stat,
    )
    p.panel(
        "stat",
        "Dead letters (time range)",
        [(f"sum(increase(recorder_dlq_records_total{{{S}}}[$__range]))", "")],
        w=4,
        h=4,
        options=stat,
    )
    p.panel(
        "stat",
        "Parked digest chains",
        [(f"sum(recorder_digester_parked_chains{{{S}}})", "")],
        w=4,
        h=4,
        options=stat,
    )
    p.panel(
        "stat",
        "Services not ready",
        [(f"count(recorder_service_ready{{{S}}} == 0) or vector(0)", "")],
        w=4,
        h=4,
        options=stat,
    )
    p.panel(
        "stat",
        "Delivery latency p95",
        [
            (
                f"histogram_quantile(0.95, sum by (le) "
                f"(rate(recorder_delivery_latency_seconds_bucket{{{S}}}[$__range])))",
                "",
            )
        ],
        w=4,
        h=4,
        unit="s",
        options=stat,
    )

    p.row("Throughput per stage")
    p.panel(
        "timeseries",
        "Events per second",
        [
            (rate("recorder_router_events_in_total"), "router in"),
            (rate("recorder_router_deliveries_out_total"), "router out (per destination)"),
            (rate("recorder_writer_records_in_total"), "writer in"),
            (rate("recorder_insights_calls_total"), "insights counted"),
        ],
        w=12,
        unit="ops",
    )
    p.panel(
        "timeseries",
        "Log files and bytes delivered",
        [
            (rate("recorder_writer_files_delivered_total"), "files/s"),
            (rate("recorder_writer_bytes_delivered_total"), "bytes/s (gzip)"),
        ],
        w=12,
        unit="short",
    )
    p.panel(
        "timeseries",
        "Latency from event time to delivery",
        quantiles("recorder_delivery_latency_seconds"),
        w=12,
        unit="s",
        description="From an event's eventTime to its log file in S3; most of it is the cut interval.",
    )
    p.panel(
        "timeseries",
        "Records per log file",
        quantiles("recorder_writer_batch_records"),
        w=12,
        description="A cut interval's records per destination; RECORDER_BATCH_MAX_RECORDS cuts early.",
    )
    p.panel(
        "timeseries",
        "Consumer lag by stage",
        [(f"sum by (stage) (recorder_consumer_lag_records{{{S}}})", "{{stage}}")],
        w=24,
        description="Records behind the log end (RecorderConsumerLagGrowing).",
    )

    p.row("Tenants (top $top trails)")
    p.panel(
        "timeseries",
        "Events delivered per trail",
        [(top("recorder_writer_delivered_events_total"), "{{trail_arn}}")],
        w=12,
        unit="ops",
        description="Events in log files delivered to S3, for the $top trails with the most "
        "over the time range.",
    )
    p.panel(
        "timeseries",
        "Events routed per trail",
        [(top("recorder_router_matches_total"), "{{trail_arn}}")],
        w=12,
        unit="ops",
        description="Events the router matched to each trail, for the $top trails with the "
        "most over the time range: routed but not delivered is parked or waiting for a cut.",
    )
    p.panel(
        "table",
        "Parked trails, longest first",
        [
            (
                f"topk($top, max by (trail_arn, kind, error) "
                f"(recorder_writer_parked_trail_age_seconds{{{S}}}))",
                "",
            )
        ],
        w=12,
        unit="s",
        instant=True,
        description="Seconds parked, with the error; docs/runbook.md#recordertraildeliveryparked.",
    )
    p.panel(
        "timeseries",
        "Parked destinations and events",
        [
            (f"sum(recorder_writer_parked_destinations{{{S}}})", "destinations"),
            (f"sum(recorder_writer_parked_events{{{S}}})", "events"),
        ],
        w=12,
    )
    p.panel(
        "timeseries",
        "Dead letters by stage and reason",
        [
            (
                f"sum by (stage, reason) (increase(recorder_dlq_records_total{{{S}}}[{RATE}]))",
                "{{stage}} {{reason}}",
            )
        ],
        w=12,
    )
    p.panel(
        "timeseries",
        "Records refused by producer key",
        [
            (
                f"sum by (key_id, reason) "
                f"(increase(recorder_rejected_records_total{{{S}}}[{RATE}]))",
                "{{key_id}} {{reason}}",
            ),
            (
                f"sum by (outcome) (increase(recorder_producer_keys_reloads_total{{{S}}}[{RATE}]))",
                "producers file {{outcome}}",
            ),
        ],
        w=12,
    )
    p.panel(
        "timeseries",
        "Grant checks by outcome",
        [
            (
                rate("recorder_writer_grant_checks_total", "resource, outcome"),
                "{{resource}} {{outcome}}",
            )
        ],
        w=12,
        unit="ops",
    )

    p.panel(
        "timeseries",
        "S3 and SNS errors by code (retried)",
        [
            (rate("recorder_writer_s3_errors_total", "code"), "S3 {{code}}"),
            (rate("recorder_writer_sns_errors_total", "code"), "SNS {{code}}"),
        ],
        w=12,
        unit="ops",
    )
    p.panel(
        "timeseries",
        "Parked retries by outcome",
        [(rate("recorder_writer_retry_attempts_total", "kind, outcome"), "{{kind}} {{outcome}}")],
        w=12,
        unit="ops",
    )

    p.row("Digest chains")
    p.panel(
        "timeseries",
        "Digests written and failed",
        [
            (rate("recorder_digester_digests_total", "outcome"), "{{outcome}}"),
            (rate("recorder_digester_conflicts_total"), "found written by another digester"),
        ],
        w=8,
        unit="ops",
    )
    p.panel(
        "timeseries",
        "Chains known and parked",
        [
            (f"sum(recorder_digester_chains{{{S}}})", "chains"),
            (f"sum(recorder_digester_parked_chains{{{S}}})", "parked"),
        ],
        w=8,
    )
    p.panel(
        "timeseries",
        "Oldest digest not yet written",
        [(f"max(recorder_digester_undelivered_digest_age_seconds{{{S}}})", "past its window end")],
        w=8,
        unit="s",
    )
    p.panel(
        "timeseries",
        "Log files in no digest (after a final digest)",
        [
            (
                f"sum(increase(recorder_digester_late_log_files_total{{{S}}}[{RATE}]))",
                "late log files",
            )
        ],
        w=24,
    )

    p.row("Control API")
    p.panel(
        "timeseries",
        "Requests by outcome",
        [(rate("recorder_api_requests_total", "code"), "{{code}}")],
        w=8,
        unit="reqps",
    )
    p.panel(
        "timeseries",
        "Server errors and throttling",
        [
            (
                rate("recorder_api_requests_total", matchers='status=~"5.."')
                + " / "
                + rate("recorder_api_requests_total"),
                "5xx",
            ),
            (
                rate("recorder_api_requests_total", matchers='code="ThrottlingException"')
                + " / "
                + rate("recorder_api_requests_total"),
                "throttled",
            ),
        ],
        w=8,
        unit="percentunit",
    )
    p.panel(
        "timeseries",
        "Request latency p95 by operation",
        [
            (
                f"histogram_quantile(0.95, sum by (le, operation) "
                f"(rate(recorder_api_request_seconds_bucket{{{S}}}[{RATE}])))",
                "{{operation}}",
            )
        ],
        w=8,
        unit="s",
    )

    p.panel(
        "timeseries",
        "Control-API calls recorded",
        [(rate("recorder_api_audit_events_total", "outcome"), "{{outcome}}")],
        w=24,
        unit="ops",
        description="Records of control-API calls sent to api-events; any failed one is a "
        "call missing from its caller's trail (RecorderApiCallsNotRecorded).",
    )

    p.row("Insights, aggregated events, organizations")
    p.panel(
        "timeseries",
        "Insights events by state and type",
        [
            (
                f"sum by (state, insight_type) (increase(recorder_insights_events_total{{{S}}}[{RATE}]))",
                "{{insight_type}} {{state}}",
            )
        ],
        w=8,
    )
    p.panel(
        "timeseries",
        "Open Insights and series",
        [
            (f"sum(recorder_insights_open{{{S}}})", "open"),
            (f"sum(recorder_insights_series{{{S}}})", "series"),
        ],
        w=8,
    )
    p.panel(
        "timeseries",
        "Calls counted and late",
        [
            (rate("recorder_insights_calls_total"), "counted"),
            (rate("recorder_insights_late_calls_total"), "late (not counted)"),
        ],
        w=8,
        unit="ops",
    )

    p.panel(
        "timeseries",
        "Aggregated events",
        [
            (rate("recorder_aggregation_events_total", "outcome"), "data events {{outcome}}"),
            (rate("recorder_aggregation_summaries_total"), "aggregated events decided"),
            (f"sum(recorder_aggregation_open_windows{{{S}}})", "open windows"),
        ],
        w=12,
        unit="ops",
    )
    p.panel(
        "timeseries",
        "Organization accounts and reads",
        [
            (f"max(recorder_organization_accounts{{{S}}})", "accounts"),
            (
                f"sum by (outcome) (increase(recorder_organizations_refresh_total{{{S}}}[{RATE}]))",
                "reads {{outcome}}",
            ),
        ],
        w=12,
    )

    p.row("Processes")
    p.panel(
        "timeseries",
        "Services ready",
        [
            (
                f"min by (instance, service) (recorder_service_ready{{{S}}})",
                "{{instance}} {{service}}",
            )
        ],
        w=8,
    )
    p.panel(
        "timeseries",
        "Service restarts",
        [
            (
                f"sum by (instance, service) (increase(recorder_service_restarts_total{{{S}}}[{RATE}]))",
                "{{instance}} {{service}}",
            )
        ],
        w=8,
    )
    p.panel(
        "timeseries",
        "Writer buffer (share of the budget)",
        [
            (
                f"max by (instance) (recorder_writer_buffered_bytes{{{S}}} "
                f"/ recorder_writer_buffer_budget_bytes{{{S}}})",
                "{{instance}}",
            )
        ],
        w=8,
        unit="percentunit",
    )
    p.panel(
        "timeseries",
        "Writer: open batches, uncommitted records, paused partitions",
        [
            (f"sum(recorder_writer_open_batches{{{S}}})", "open batches"),
            (f"sum(recorder_writer_uncommitted_records{{{S}}})", "uncommitted records"),
            (f"sum(recorder_writer_paused_partitions{{{S}}})", "paused partitions"),
            (
                f"sum(increase(recorder_writer_pauses_total{{{S}}}[{RATE}]))",
                "partitions paused (budget spent)",
            ),
        ],
        w=12,
    )
    p.panel(
        "timeseries",
        "Duplicates dropped and stale-registry batches",
        [
            (rate("recorder_router_duplicates_total"), "router duplicates"),
            (rate("recorder_writer_duplicates_total"), "writer duplicates"),
            (rate("recorder_router_stale_registry_total"), "routed before the registry caught up"),
        ],
        w=12,
        unit="ops",
    )
    return p.panels


def variables() -> list[dict[str, Any]]:
    def label_values(name: str, query: str) -> dict[str, Any]:
        return {
            "name": name,
            "label": name,
            "type": "query",
            "datasource": DATASOURCE,
            "query": {"query": query, "refId": name},
            "definition": query,
            "refresh": 2,
            "includeAll": True,
            "multi": True,
            "allValue": ".*",
            "current": {"text": "All", "value": "$__all"},
            "sort": 1,
        }

    return [
        {
            "name": "datasource",
            "label": "Prometheus",
            "type": "datasource",
            "query": "prometheus",
            "current": {},
        },
        label_values("namespace", "label_values(recorder_service_ready, namespace)"),
        label_values("job", 'label_values(recorder_service_ready{namespace=~"$namespace"}, job)'),
        {
            "name": "top",
            "label": "Top trails",
            "type": "custom",
            "query": "5,10,20",
            "current": {"text": "10", "value": "10"},
            "options": [{"text": v, "value": v, "selected": v == "10"} for v in ("5", "10", "20")],
        },
    ]


def dashboard() -> dict[str, Any]:
    return {
        "uid": UID,
        "title": "recorder",
        "description": "recorder: delivery per stage and per trail, digests, control API, "
        "Insights. Alerts and what to do: docs/runbook.md.",
        "tags": ["recorder", "cloudtrail"],
        "editable": True,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "1m",
        "time": {"from": "now-6h", "to": "now"},
        "timezone": "utc",
        "templating": {"list": variables()},
        "annotations": {"list": []},
        "panels": panels(),
    }


def render() -> str:
    return json.dumps(dashboard(), indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not OUT.exists() or OUT.read_text() != text:
            print(
                f"render-dashboard: {OUT} is stale; run scripts/render-dashboard.py",
                file=sys.stderr,
            )
            return 1
        return 0
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)
    print(f"render-dashboard: wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
