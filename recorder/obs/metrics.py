"""Every Prometheus metric recorder exports, defined in one place.

Names follow ``recorder_<stage>_<what>_<unit>``. Metrics live in a registry object
rather than the global default so that tests (and several services in one process)
get their own without collisions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from recorder.obs.cardinality import CappedLabels, TopSeries

#: Distinct trail ARNs a per-trail metric breaks out; the rest count as "other".
MAX_TRAIL_LABELS = 500


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
        self.producer_awaiting_identity = Gauge(
            "recorder_producer_awaiting_identity",
            "Records waiting for their caller's identity (an STS lookup), in memory and journal",
            registry=r,
        )
        self.producer_sink_restarts = Counter(
            "recorder_producer_sink_restarts_total",
            "Times the producer sink's thread failed and was started again",
            registry=r,
        )
        self.producer_journal_records = Gauge(
            "recorder_producer_journal_records",
            "Events waiting in the spill-over journal",
            registry=r,
        )
        # admission of api-events records (recorder.provenance)
        self.rejected = Counter(
            "recorder_rejected_records_total",
            "api-events records refused by their producer key: unsigned, unknown_key, "
            "revoked_key, bad_signature, key_mismatch, account_not_allowed (key_id '-': "
            "no known key)",
            ["stage", "key_id", "reason"],
            registry=r,
        )
        self.producer_keys_reloads = Counter(
            "recorder_producer_keys_reloads_total",
            "Producers file re-reads after a change (reloaded, failed: the last good keys stay)",
            ["outcome"],
            registry=r,
        )
        # router
        self.router_events_in = Counter(
            "recorder_router_events_in_total", "Events consumed from api-events", registry=r
        )
        self.router_deliveries_out = Counter(
            "recorder_router_deliveries_out_total", "Routed records produced", registry=r
        )
        self.router_unselected = Counter(
            "recorder_router_unselected_total",
            "Events no trail selects: decided on their routing fields, never decoded",
            registry=r,
        )
        # per trail, capped: trail ARNs come from tenants (obs.cardinality)
        self.router_matches = CappedLabels(
            Counter(
                "recorder_router_matches_total",
                "Events matched per trail (past MAX_TRAIL_LABELS trails: trail_arn=other)",
                ["trail_arn"],
                registry=r,
            ),
            MAX_TRAIL_LABELS,
        )
        self.router_duplicates = Counter(
            "recorder_router_duplicates_total",
            "Events dropped as already routed (same eventID)",
            registry=r,
        )
        self.router_stale_registry = Counter(
            "recorder_router_stale_registry_total",
            "Batches routed without the trail registry brought up to date first "
            "(the registry did not catch up in time; changes may reach them late)",
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
        # per trail, capped like router_matches: what each tenant's log files hold
        self.writer_delivered_events = CappedLabels(
            Counter(
                "recorder_writer_delivered_events_total",
                "Events delivered in log files, per trail (past MAX_TRAIL_LABELS trails: "
                "trail_arn=other)",
                ["trail_arn"],
                registry=r,
            ),
            MAX_TRAIL_LABELS,
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
        # writer: failure containment (parked destinations, routed-retry)
        self.writer_parked = Counter(
            "recorder_writer_parked_total",
            "Batches or notices moved to routed-retry, by kind and error class",
            ["kind", "error_class"],
            registry=r,
        )
        self.writer_parked_destinations = Gauge(
            "recorder_writer_parked_destinations",
            "Destinations with parked batches or notices",
            registry=r,
        )
        self.writer_parked_events = Gauge(
            "recorder_writer_parked_events", "Events in parked batches", registry=r
        )
        self.writer_oldest_parked_age = Gauge(
            "recorder_writer_oldest_parked_age_seconds",
            "Age of the oldest parked batch or notice",
            registry=r,
        )
        # per trail, bounded: the MAX_TRAIL_LABELS longest parked (obs.cardinality)
        self.writer_parked_trail_age = TopSeries(
            Gauge(
                "recorder_writer_parked_trail_age_seconds",
                "Age of a trail's oldest parked batch (kind=file) or notice (kind=notice), "
                "with the error it is parked for; only trails parked now, the "
                "MAX_TRAIL_LABELS longest parked",
                ["trail_arn", "kind", "error"],
                registry=r,
            ),
            MAX_TRAIL_LABELS,
        )
        self.writer_parking_period = Gauge(
            "recorder_writer_parking_period_seconds",
            "The parking period: how long a parked batch is retried before it is "
            "dead-lettered (RECORDER_PARKING_PERIOD)",
            registry=r,
        )
        self.writer_grant_checks = Counter(
            "recorder_writer_grant_checks_total",
            "Checks of a destination's bucket, topic or key policy, by outcome "
            "(granted, denied, error: the policy could not be read)",
            ["resource", "outcome"],
            registry=r,
        )
        self.writer_retry_attempts = Counter(
            "recorder_writer_retry_attempts_total",
            "Retries of parked batches and notices, by kind and outcome",
            ["kind", "outcome"],
            registry=r,
        )
        self.writer_buffered_bytes = Gauge(
            "recorder_writer_buffered_bytes",
            "Bytes of routed records held in memory (open and cut batches)",
            registry=r,
        )
        self.writer_buffer_budget = Gauge(
            "recorder_writer_buffer_budget_bytes",
            "Buffered bytes at which the writer pauses its partitions "
            "(RECORDER_WRITER_BUFFER_BYTES)",
            registry=r,
        )
        self.writer_uncommitted = Gauge(
            "recorder_writer_uncommitted_records",
            "Records of routed after the committed offsets (high watermark minus committed)",
            registry=r,
        )
        self.writer_pauses = Counter(
            "recorder_writer_pauses_total",
            "Partitions paused because the buffered-bytes budget was spent",
            registry=r,
        )
        self.writer_paused = Gauge(
            "recorder_writer_paused_partitions",
            "Partitions paused because the buffered-bytes budget is spent",
            registry=r,
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
            "Write management and data calls counted into an Insights series",
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
        # aggregation
        self.aggregation_events = Counter(
            "recorder_aggregation_events_total",
            "Data events of aggregating trails read: counted, duplicate (routed twice), "
            "late (their window already closed)",
            ["outcome"],
            registry=r,
        )
        self.aggregation_summaries = Counter(
            "recorder_aggregation_summaries_total", "Aggregated events decided", registry=r
        )
        self.aggregation_open_windows = Gauge(
            "recorder_aggregation_open_windows",
            "Windows of aggregating destinations not yet closed",
            registry=r,
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
        # digester
        self.digester_digests = Counter(
            "recorder_digester_digests_total",
            "Digest write attempts by outcome (written, failed)",
            ["outcome"],
            registry=r,
        )
        self.digester_parked_chains = Gauge(
            "recorder_digester_parked_chains",
            "Chains whose digest failed digest_max_attempts times in a row (retried slowly)",
            registry=r,
        )
        self.digester_chains = Gauge(
            "recorder_digester_chains", "Digest chains known to this digester", registry=r
        )
        self.digester_conflicts = Counter(
            "recorder_digester_conflicts_total",
            "Digests found already written by another digester (the chain continued from it)",
            registry=r,
        )
        self.digester_undelivered_age = Gauge(
            "recorder_digester_undelivered_digest_age_seconds",
            "Seconds since the end of the oldest digest window whose digest is not "
            "written yet (retried or parked); 0 when none waits",
            registry=r,
        )
        self.digester_tlog_failures = Counter(
            "recorder_digester_tlog_failures_total",
            "Merkle log writes given up (unavailable: its stored tiles cannot be read back; "
            "tile_conflict: a tile of different bytes is stored)",
            ["reason"],
            registry=r,
        )
        self.digester_late_files = Counter(
            "recorder_digester_late_log_files_total",
            "Log files in no digest: delivered after their chain's final digest holding "
            "only events from after it (a trail stopped, deleted or without validation)",
            registry=r,
        )
        # supervision
        self.service_ready = Gauge(
            "recorder_service_ready",
            "1 while a service of this process is started and not failing, else 0 "
            "(what /readyz answers, per service)",
            ["service"],
            registry=r,
        )
        self.service_restarts = Counter(
            "recorder_service_restarts_total",
            "Services restarted after a failure",
            ["service"],
            registry=r,
        )
        # the local stack's retention (recorder.stack.retention; noida-db only)
        self.retention_deleted = Counter(
            "recorder_retention_deleted_records_total",
            "Records the local broker deleted after every consumer group committed past them",
            ["topic"],
            registry=r,
        )
        self.retention_failures = Counter(
            "recorder_retention_failures_total",
            "Retention passes that failed (the broker away, a deletion refused); retried",
            registry=r,
        )
