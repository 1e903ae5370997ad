"""Every Prometheus metric recorder exports, defined in one place.

Names follow ``recorder_<stage>_<what>_<unit>``. Metrics live in a registry object
rather than the global default so that tests (and several services in one process)
get their own without collisions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        # producer
        self.producer_events = Counter(
            "recorder_producer_events_total",
            "Events captured by the SDK hook",
            ["outcome"],
            registry=r,
        )
        self.producer_buffer_fill = Gauge(
            "recorder_producer_buffer_fill", "Events waiting in the in-memory buffer", registry=r
        )
        self.producer_journal_records = Gauge(
            "recorder_producer_journal_records",
            "Events waiting in the spill-over journal",
            registry=r,
        )
        # router
        self.router_events_in = Counter(
            "recorder_router_events_in_total", "Events consumed from api-events", registry=r
        )
        self.router_deliveries_out = Counter(
            "recorder_router_deliveries_out_total", "Routed records produced", registry=r
        )
        self.router_matches = Counter(
            "recorder_router_matches_total", "Events matched per trail", ["trail_arn"], registry=r
        )
        self.router_duplicates = Counter(
            "recorder_router_duplicates_total",
            "Events dropped as already routed (same eventID)",
            registry=r,
        )
        # writer
        self.writer_records_in = Counter(
            "recorder_writer_records_in_total", "Routed records consumed", registry=r
        )
        self.writer_duplicates = Counter(
            "recorder_writer_duplicates_total",
            "Routed records dropped as repeats of an eventID",
            registry=r,
        )
        self.writer_batch_records = Histogram(
            "recorder_writer_batch_records",
            "Records per delivered log file",
            buckets=(1, 10, 100, 1_000, 10_000, 100_000),
            registry=r,
        )
        self.writer_files = Counter(
            "recorder_writer_files_delivered_total", "Log files written to S3", registry=r
        )
        self.writer_bytes = Counter(
            "recorder_writer_bytes_delivered_total", "Compressed bytes written to S3", registry=r
        )
        self.writer_s3_errors = Counter(
            "recorder_writer_s3_errors_total", "Failed S3 puts (retried)", ["code"], registry=r
        )
        self.writer_sns_errors = Counter(
            "recorder_writer_sns_errors_total",
            "Failed SNS publishes (retried)",
            ["code"],
            registry=r,
        )
        self.writer_open_batches = Gauge(
            "recorder_writer_open_batches", "Destinations with records not yet cut", registry=r
        )
        self.delivery_latency = Histogram(
            "recorder_delivery_latency_seconds",
            "Event time to object in S3",
            buckets=(1, 2, 5, 10, 30, 60, 120, 300, 600, 1200),
            registry=r,
        )
        # insights
        self.insights_calls = Counter(
            "recorder_insights_calls_total",
            "Write management calls counted into an Insights series",
            registry=r,
        )
        self.insights_late = Counter(
            "recorder_insights_late_calls_total",
            "Calls whose minute was already closed (not counted)",
            registry=r,
        )
        self.insights_events = Counter(
            "recorder_insights_events_total",
            "Insights events decided",
            ["state", "insight_type"],
            registry=r,
        )
        self.insights_open = Gauge(
            "recorder_insights_open", "Insights started and not yet ended", registry=r
        )
        self.insights_series = Gauge(
            "recorder_insights_series", "Series the detector keeps a baseline of", registry=r
        )
        # shared
        self.dlq = Counter(
            "recorder_dlq_records_total",
            "Records sent to the dead-letter topic",
            ["stage", "reason"],
            registry=r,
        )
        self.consumer_lag = Gauge(
            "recorder_consumer_lag_records",
            "High watermark minus position",
            ["stage", "partition"],
            registry=r,
        )
        self.offset_regressions = Counter(
            "recorder_offset_regressions_total",
            "A partition's log end fell below this consumer's position: the broker lost "
            "acknowledged records (e.g. an unclean leader election)",
            ["stage", "partition"],
            registry=r,
        )
