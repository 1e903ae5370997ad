"""One typed settings object, read from ``RECORDER_*`` environment variables.

Every service takes a :class:`Settings`; nothing reads the environment anywhere
else, so a test can build one by hand and a bad value is reported once, at start,
with the variable's name.

The fields are parsed by pydantic-settings: ``RECORDER_<FIELD>`` for each field and
``RECORDER_TOPIC_<NAME>`` for each topic name. Building ``Settings(...)`` by hand
reads no environment (the Makefile exports ``RECORDER_*`` for the stack, and a test
that builds ``Settings()`` means the defaults); only :meth:`Settings.from_env` does.
Either way every value is checked, and a bad one raises :class:`SettingsError`
naming the variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    InitSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings.sources.utils import parse_env_vars

if TYPE_CHECKING:
    from recorder.provenance.keys import ProducerKey, WatchedProducerKeys

PREFIX = "RECORDER_"
TOPIC_PREFIX = "RECORDER_TOPIC_"


#: Producer compression codecs (RECORDER_KAFKA_COMPRESSION); "none" sends batches as is.
COMPRESSION_CODECS = frozenset({"none", "gzip", "snappy", "lz4", "zstd"})
#: RECORDER_KAFKA_COMPRESSION's default, also what a sink built without settings uses.
DEFAULT_COMPRESSION = "zstd"


class SettingsError(ValueError):
    """A ``RECORDER_*`` variable has a value the service cannot run with."""


def _empty_is_none(value: Any) -> Any:
    """An empty variable means "not set" for an optional file (the chart renders "")."""
    return None if value == "" else value


OptionalPath = Annotated[Path | None, BeforeValidator(_empty_is_none)]


def default_journal_dir() -> Path:
    """The producer journal's root when none is set: absolute and per user, never the
    working directory (``$XDG_STATE_HOME/recorder/journal``, else
    ``~/.local/state/recorder/journal``)."""
    state = os.environ.get("XDG_STATE_HOME", "").strip()
    base = Path(state) if state and Path(state).is_absolute() else Path.home() / ".local" / "state"
    return (base / "recorder" / "journal").resolve()


class _Base(BaseSettings):
    """Values from the constructor, and from an environment only when one is given.

    ``Settings(...)`` reads no environment: the Makefile exports ``RECORDER_*`` for
    the stack, and a test that builds ``Settings()`` means the defaults. So by hand
    the values are only validated (pydantic's own constructor: tens of microseconds,
    where pydantic-settings' would build and parse every source, half a millisecond,
    only to drop them), and with ``_environ`` the constructor's values and the
    environment are merged by pydantic-settings' sources, the constructor's first.
    """

    model_config = SettingsConfigDict(frozen=True, extra="forbid", case_sensitive=False)

    def __init__(self, _environ: Mapping[str, str] | None = None, **values: Any) -> None:
        cls = type(self)
        try:
            if _environ is None:
                BaseModel.__init__(self, **values)
            else:
                sources = (InitSettingsSource(cls, values), _EnvironSource(cls, _environ))
                super().__init__(_build_sources=(sources, values))
        except ValidationError as exc:
            raise _settings_error(exc, cls.model_config.get("env_prefix", "")) from None


class Topics(_Base):
    """Kafka topic names, each from ``RECORDER_TOPIC_<NAME>`` (empty: the default)."""

    model_config = SettingsConfigDict(env_prefix=TOPIC_PREFIX, env_ignore_empty=True)

    api_events: str = "api-events"
    routed: str = "routed"
    delivered: str = "delivered"
    trails: str = "trails"
    dlq: str = "api-events-dlq"
    digest_state: str = "digest-state"
    trail_status: str = "trail-status"
    insights_state: str = "insights-state"
    aggregation_state: str = "aggregation-state"
    routed_retry: str = "routed-retry"


class Settings(_Base):
    model_config = SettingsConfigDict(env_prefix=PREFIX)

    # Kafka
    bootstrap_servers: str = "127.0.0.1:29092"
    partitions: int = 4
    # dynamic: Kafka consumer-group rebalancing (scale out by adding processes).
    # static: this process takes ``assigned_partitions`` (empty: all) and only
    # commits offsets to the group; for brokers without group rebalancing.
    group_membership: str = "dynamic"
    assigned_partitions: str = ""
    # The router's Kafka transactional id. It must be the same for a process and
    # its replacement, so that the replacement fences the old one and aborts its
    # open transaction. Empty: derived from the static partitions, or the host name
    # (a StatefulSet pod name) with dynamic membership.
    transactional_id: str = ""
    # Kafka transactions for the router (real Kafka). Off: at least once, and the
    # router and writer drop repeated eventIDs per destination.
    router_transactions: bool = False
    # AWS-compatible endpoints (S3, SNS, KMS); empty means the real AWS endpoints.
    aws_endpoint_url: str = ""
    aws_region: str = "us-east-1"
    # Empty: botocore's default credential chain (IAM role, env, profile).
    aws_access_key_id: str = ""
    aws_secret_access_key: str = ""
    # Who recorder delivers as, the principal that trails' bucket, topic and key
    # policies must grant (recorder.policies.principal): on AWS the writer's IAM role
    # ARN; empty means the identity the process's own AWS credentials have (STS
    # GetCallerIdentity at start: what the writer really signs with). A service
    # principal (cloudtrail.amazonaws.com, whose policies the guide shows) only with
    # an emulator endpoint: on AWS nobody but CloudTrail signs as CloudTrail.
    delivery_principal: str = ""
    # Kafka security (a real cluster): PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_ssl_cafile: OptionalPath = None
    kafka_ssl_certfile: OptionalPath = None
    kafka_ssl_keyfile: OptionalPath = None
    kafka_ssl_check_hostname: bool = True
    # PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, or OAUTHBEARER: Amazon MSK's IAM
    # authentication (SASL_SSL), tokens signed with the AWS credentials
    # (recorder.aws.msk) for the cluster's region, kafka_msk_region (empty: aws_region).
    kafka_sasl_mechanism: str = "PLAIN"
    kafka_sasl_username: str = ""
    kafka_sasl_password: str = ""
    kafka_msk_region: str = ""
    # The codec every producer compresses its record batches with: zstd, lz4, snappy,
    # gzip or none. Records are JSON (routed) or Avro with JSON inside (api-events)
    # that compress several times over within a batch, so the brokers store,
    # replicate and serve a fraction of the bytes; consumers decompress (aiokafka
    # does, with cramjam). On the local stack it also keeps noida-db's saves small:
    # it rewrites every retained byte on each save, which without compression took
    # up to a core of this machine's two in load tests (README, Measuring).
    kafka_compression: str = DEFAULT_COMPRESSION
    # Delivery
    cut_interval: float = 300.0
    batch_max_records: int = 10_000
    batch_max_bytes: int = 8 * 1024 * 1024
    # Failure containment (issue 11). A failing destination is parked: its batches
    # go to the routed-retry topic and are retried on a schedule (base doubling up
    # to max, with jitter) for parking_period (AWS: "a limited period", 30 days),
    # then dead-lettered with the reason.
    parking_period: float = 30 * 24 * 3600.0
    park_retry_base: float = 5.0
    park_retry_max: float = 300.0
    # botocore's retry configuration for S3/SNS calls (mode standard: capped
    # exponential backoff with jitter on 5xx, throttling, timeouts, resets).
    aws_max_attempts: int = 3
    # Seconds between re-checks of a destination's grants (bucket, topic and key
    # policies) by the writer; it always checks before its first delivery to a
    # destination and on every retry of a parked one. 0: no periodic re-check.
    grant_recheck_interval: float = 300.0
    # Bytes of routed records one writer holds in memory; past it, it pauses its
    # partitions until deliveries (or parking) bring it back under.
    writer_buffer_bytes: int = 256 * 1024 * 1024
    # /readyz turns false when a stage has work and makes no progress this long.
    stall_timeout: float = 120.0
    # Poll pacing (recorder.kafka.pacing): after a poll short of a full batch, a stage
    # lets records gather (up to half a batch at its recent rate) for at most this
    # long before it fetches again; 0 polls at once. Each stage adds at most this much
    # latency, against a cut interval of minutes; the longer it is, the less each
    # process pays per event in fixed per-poll costs when its share of the traffic is
    # small (loadtest.scale: 0.25 s cost 29 % more per event at 4 processes than at 1
    # on tansu; 1 s, 6-8 % at the reference speed and 14-30 % as measured, most of it
    # eight processes sharing two cores: README, Measuring). 2 s: an idle router and
    # writer pair costs about 60 % of what it did at 1 s (a poll's fixed work, about
    # 1.5 ms of CPU a stage, is most of what an idle process does); a busy stage holds
    # for half a batch at its rate, well under the linger, so only stages with a small
    # share of the traffic wait longer.
    poll_linger: float = 2.0
    # The cyclic garbage collector's first threshold in service processes
    # (recorder.services.memory): how many container objects may be allocated, net,
    # before a young-generation collection. Python's 700 runs one every few records
    # on the routing and delivery paths, which allocate dicts per record that
    # reference counting frees anyway (bench/router.py: ~7 % of the router's CPU per
    # event). 0 keeps Python's default.
    gc_threshold: int = 50_000
    # Skeleton trail configuration (replaced by the `trails` topic registry).
    trails_file: OptionalPath = None
    # AWS Organizations membership for organization trails (DescribeOrganization and
    # ListAccounts with the AWS credentials above): refreshed every so many seconds;
    # 0 turns it off (organization trails then log their owner's account only).
    organizations_refresh: float = 300.0
    # The ApiEvent schema version producers write (recorder/schemas/api_event/). Stays
    # at the previous version during a rolling upgrade until every router reads the
    # new one; README "Upgrading the event schema" gives the order.
    event_schema_version: int = 1
    # Records AWS wrote that `python -m recorder.fidelity` and the fidelity tests replay
    # through the hook (unset: shared/fidelity/corpus.jsonl beside the checkout).
    fidelity_corpus: OptionalPath = None
    # Producer journal (spill-over when Kafka or STS is unreachable): each process
    # writes its own directory under this root (absolute; a relative value is taken
    # from the working directory at start), and adopts those of processes that are gone.
    journal_dir: Annotated[Path, AfterValidator(lambda p: p.resolve())] = Field(
        default_factory=lambda: default_journal_dir()
    )
    # Events a producer holds in memory while Kafka is slow, and as many again while
    # their callers' identities are looked up; the rest waits on disk.
    producer_buffer: int = 10_000
    # How long a record waits for its caller's identity (STS) before it is sent with
    # what is known of the caller (its access key id and the account that key is of).
    producer_identity_wait: float = 3600.0
    # Producer credentials (recorder.provenance). Readers of api-events (router,
    # Insights) admit records by the producers file: each producer's keys and the
    # accounts it may write for; required, no default. A producer signs with its key:
    # RECORDER_PRODUCER_KEY_ID and RECORDER_PRODUCER_SECRET, or only the key id when
    # the producers file is at hand too (local development, the recorder's own API).
    producers_file: OptionalPath = None
    producer_key_id: str = ""
    producer_secret: SecretStr = SecretStr("")
    # Who owns which bucket (JSON {"bucket": "account id"}): with the trails' own
    # buckets, the only source of cross-account copies of S3 data events.
    bucket_owners_file: OptionalPath = None
    # Observability / control
    metrics_port: int = 9464
    api_port: int = 8080  # host, credentials: recorder.api.config (RECORDER_API_*)
    log_level: str = "info"
    digest_interval: float = 3600.0
    # Digest signing keys: an operator's PEM file, or rings generated and kept in
    # S3 sealed under a KMS data key (envelope encryption).
    signing_key_file: OptionalPath = None
    signing_key_password: str = ""
    keys_bucket: str = "recorder-digest-keys"
    keys_kms_key_id: str = "alias/recorder-digest-keys"
    # CloudTrail Insights detection (recorder.insights; README "Insights").
    insights_bucket_seconds: int = 60  # the counting interval (AWS: a minute)
    insights_baseline_window: int = 7 * 24 * 60  # buckets the baseline spans
    insights_threshold: float = 4.0  # normal range: mean +- threshold * deviation
    insights_lateness: float = 60.0  # seconds a bucket waits for late calls
    # After the broker was away (or at start), seconds the stage waits before it closes
    # intervals again: what producers held back (journals) arrives first.
    insights_grace: float = 60.0
    # Aggregated events (recorder.aggregation; README "Aggregated events").
    aggregation_window_seconds: int = 300  # AWS's windowSize PT5M
    aggregation_lateness: float = 60.0  # seconds a window waits for late events
    # Rotation of generated keys (seconds): a new key every 20 days, each valid 30
    # days (the overlap lets a late window be signed by the outgoing key); a
    # digester re-reads the shared ring this often to pick up another's rotation.
    signing_key_rotate_every: float = 20 * 86400.0
    signing_key_lifetime: float = 30 * 86400.0
    signing_key_reload: float = 60.0
    # After StopLogging/DeleteTrail/validation off, the final digest is written once
    # the writers' cut watermarks (recorder.kafka.watermarks) show every log file that
    # can hold an event from before the stop delivered; this is the most it waits
    # when they do not (a writer down, a routed partition with no writer).
    digest_final_wait: float = 600.0
    # Events stamped in the stop's second but produced up to this long after it are
    # still waited for; later ones reach a backfill digest.
    digest_final_slack: float = 2.0
    # How often routers and writers publish their progress marks (a record per
    # partition each time, never one per event).
    watermark_interval: float = 1.0
    # A digest write that fails this many times in a row parks its chain (the
    # other chains go on); a parked chain is retried every digest_park_retry s.
    digest_max_attempts: int = 5
    digest_park_retry: float = 60.0
    # Supervision: a failed service is restarted after a backoff growing from
    # service_restart_backoff to service_restart_backoff_max seconds. A process
    # running one stage exits (for its orchestrator to restart) after
    # service_max_restarts failures in a row; `run all` keeps the others running.
    service_restart_backoff: float = 1.0
    service_restart_backoff_max: float = 60.0
    service_max_restarts: int = 5
    topics: Topics = Field(default_factory=Topics)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from ``RECORDER_<FIELD>`` variables; overrides win."""
        env = os.environ if environ is None else environ
        overrides.setdefault("topics", Topics(_environ=env))
        return cls(_environ=env, **overrides)

    @model_validator(mode="after")
    def _check(self) -> Settings:
        """The ranges and combinations a type cannot say, each naming its variable."""
        problems = []
        if not self.bootstrap_servers.strip():
            problems.append("RECORDER_BOOTSTRAP_SERVERS must name at least one host:port")
        if self.group_membership not in {"dynamic", "static"}:
            problems.append(
                f"RECORDER_GROUP_MEMBERSHIP must be dynamic|static, got {self.group_membership!r}"
            )
        try:
            self.static_partitions()
        except ValueError:
            problems.append(
                f"RECORDER_ASSIGNED_PARTITIONS must be comma-separated partition numbers, "
                f"got {self.assigned_partitions!r}"
            )
        if self.partitions < 1:
            problems.append(f"RECORDER_PARTITIONS must be >= 1, got {self.partitions}")
        if self.cut_interval <= 0:
            problems.append(f"RECORDER_CUT_INTERVAL must be > 0 seconds, got {self.cut_interval}")
        if self.batch_max_records < 1:
            problems.append(
                f"RECORDER_BATCH_MAX_RECORDS must be >= 1, got {self.batch_max_records}"
            )
        if self.batch_max_bytes < 1024:
            problems.append(f"RECORDER_BATCH_MAX_BYTES must be >= 1024, got {self.batch_max_bytes}")
        if self.parking_period <= 0 or self.park_retry_base <= 0:
            problems.append("RECORDER_PARKING_PERIOD and RECORDER_PARK_RETRY_BASE must be > 0")
        if self.park_retry_max < self.park_retry_base:
            problems.append("RECORDER_PARK_RETRY_MAX must be >= RECORDER_PARK_RETRY_BASE")
        if self.aws_max_attempts < 1:
            problems.append(f"RECORDER_AWS_MAX_ATTEMPTS must be >= 1, got {self.aws_max_attempts}")
        if self.grant_recheck_interval < 0:
            problems.append(
                f"RECORDER_GRANT_RECHECK_INTERVAL must be >= 0, got {self.grant_recheck_interval}"
            )
        if self.writer_buffer_bytes < 1024 * 1024:
            problems.append(
                f"RECORDER_WRITER_BUFFER_BYTES must be >= 1 MiB, got {self.writer_buffer_bytes}"
            )
        if self.stall_timeout <= 0:
            problems.append(f"RECORDER_STALL_TIMEOUT must be > 0, got {self.stall_timeout}")
        if not 0 <= self.poll_linger <= 5:
            problems.append(f"RECORDER_POLL_LINGER must be 0-5 seconds, got {self.poll_linger}")
        if not 0 <= self.gc_threshold <= 10_000_000:
            problems.append(
                f"RECORDER_GC_THRESHOLD must be 0-10000000 allocations, got {self.gc_threshold}"
            )
        if self.producer_identity_wait < 0:
            problems.append(
                f"RECORDER_PRODUCER_IDENTITY_WAIT must be >= 0, got {self.producer_identity_wait}"
            )
        if self.producer_buffer < 1:
            problems.append(f"RECORDER_PRODUCER_BUFFER must be >= 1, got {self.producer_buffer}")
        from recorder.events.schema import BY_VERSION  # the published schema versions

        if self.event_schema_version not in BY_VERSION:
            problems.append(
                f"RECORDER_EVENT_SCHEMA_VERSION must be a published ApiEvent schema version "
                f"({', '.join(map(str, BY_VERSION))}), got {self.event_schema_version}"
            )
        if self.log_level.lower() not in {"debug", "info", "warning", "error"}:
            problems.append(
                f"RECORDER_LOG_LEVEL must be debug|info|warning|error, got {self.log_level!r}"
            )
        if self.organizations_refresh < 0:
            problems.append(
                f"RECORDER_ORGANIZATIONS_REFRESH must be >= 0, got {self.organizations_refresh}"
            )
        if self.signing_key_lifetime <= self.signing_key_rotate_every:
            problems.append(
                "RECORDER_SIGNING_KEY_LIFETIME must exceed RECORDER_SIGNING_KEY_ROTATE_EVERY "
                "(the outgoing key must still sign windows that closed before a rotation)"
            )
        if self.signing_key_rotate_every <= 0 or self.signing_key_reload < 0:
            problems.append("RECORDER_SIGNING_KEY_ROTATE_EVERY must be > 0, _RELOAD >= 0")
        if self.digest_final_wait < 0:
            problems.append(
                f"RECORDER_DIGEST_FINAL_WAIT must be >= 0, got {self.digest_final_wait}"
            )
        if self.digest_final_slack < 0:
            problems.append(
                f"RECORDER_DIGEST_FINAL_SLACK must be >= 0, got {self.digest_final_slack}"
            )
        if not 0 < self.watermark_interval <= 60:
            problems.append(
                f"RECORDER_WATERMARK_INTERVAL must be 0-60 seconds, got {self.watermark_interval}"
            )
        if self.digest_max_attempts < 1 or self.digest_park_retry <= 0:
            problems.append("RECORDER_DIGEST_MAX_ATTEMPTS must be >= 1, _PARK_RETRY > 0")
        if self.service_restart_backoff <= 0 or self.service_max_restarts < 0:
            problems.append(
                "RECORDER_SERVICE_RESTART_BACKOFF must be > 0, RECORDER_SERVICE_MAX_RESTARTS >= 0"
            )
        if self.digest_interval <= 0:
            problems.append(f"RECORDER_DIGEST_INTERVAL must be > 0, got {self.digest_interval}")
        protocols = {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"}
        if self.kafka_security_protocol not in protocols:
            problems.append(
                f"RECORDER_KAFKA_SECURITY_PROTOCOL must be one of {sorted(protocols)}, "
                f"got {self.kafka_security_protocol!r}"
            )
        if self.kafka_compression not in COMPRESSION_CODECS:
            problems.append(
                f"RECORDER_KAFKA_COMPRESSION must be one of {sorted(COMPRESSION_CODECS)}, "
                f"got {self.kafka_compression!r}"
            )
        elif not _codec_available(self.kafka_compression):
            problems.append(
                f"RECORDER_KAFKA_COMPRESSION={self.kafka_compression} needs the cramjam "
                "package (pip install 'aiokafka[zstd,lz4,snappy]'), which is not installed"
            )
        mechanisms = {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"}
        if self.kafka_security_protocol.startswith("SASL"):
            if self.kafka_sasl_mechanism not in mechanisms:
                problems.append(
                    f"RECORDER_KAFKA_SASL_MECHANISM must be one of {sorted(mechanisms)}, "
                    f"got {self.kafka_sasl_mechanism!r}"
                )
            if self.kafka_sasl_mechanism == "OAUTHBEARER":
                if self.kafka_security_protocol != "SASL_SSL":
                    problems.append(
                        "RECORDER_KAFKA_SASL_MECHANISM=OAUTHBEARER (MSK IAM) needs "
                        "RECORDER_KAFKA_SECURITY_PROTOCOL=SASL_SSL: MSK takes IAM over TLS only"
                    )
            elif not self.kafka_sasl_username or not self.kafka_sasl_password:
                problems.append(
                    "RECORDER_KAFKA_SASL_USERNAME and RECORDER_KAFKA_SASL_PASSWORD are required with SASL"
                )
        if self.delivery_principal:
            from recorder.policies.principal import Principal

            try:
                principal = Principal.parse(self.delivery_principal)
            except ValueError as exc:
                problems.append(f"RECORDER_DELIVERY_PRINCIPAL: {exc}")
            else:
                from recorder.aws.arn import partition_for

                home = partition_for(self.aws_region)
                if principal.partition not in (None, home):
                    problems.append(
                        f"RECORDER_DELIVERY_PRINCIPAL={self.delivery_principal} is in partition "
                        f"{principal.partition}, RECORDER_AWS_REGION={self.aws_region} in {home}"
                    )
                if principal.is_service and not self.aws_endpoint_url:
                    problems.append(
                        f"RECORDER_DELIVERY_PRINCIPAL={self.delivery_principal} is a service "
                        "principal, which only AWS's own service signs as: on AWS give the "
                        "writer's role ARN (or leave it empty for the process's own identity); "
                        "a service principal needs RECORDER_AWS_ENDPOINT_URL (an emulator)"
                    )
        if bool(self.aws_access_key_id) != bool(self.aws_secret_access_key):
            problems.append(
                "RECORDER_AWS_ACCESS_KEY_ID and RECORDER_AWS_SECRET_ACCESS_KEY go together"
            )
        if self.insights_bucket_seconds < 1 or self.insights_baseline_window < 1:
            problems.append(
                "RECORDER_INSIGHTS_BUCKET_SECONDS and RECORDER_INSIGHTS_BASELINE_WINDOW must be >= 1"
            )
        if self.insights_threshold <= 0 or self.insights_lateness < 0 or self.insights_grace < 0:
            problems.append(
                "RECORDER_INSIGHTS_THRESHOLD must be > 0, RECORDER_INSIGHTS_LATENESS and "
                "RECORDER_INSIGHTS_GRACE >= 0"
            )
        if self.aggregation_window_seconds < 1 or self.aggregation_lateness < 0:
            problems.append(
                "RECORDER_AGGREGATION_WINDOW_SECONDS must be >= 1 and "
                "RECORDER_AGGREGATION_LATENESS >= 0"
            )
        if problems:
            raise SettingsError("; ".join(problems))
        return self

    def static_partitions(self) -> list[int] | None:
        """The partitions of a static member; None means all of them."""
        if not self.assigned_partitions.strip():
            return None
        return sorted({int(p) for p in self.assigned_partitions.split(",") if p.strip()})

    def router_transactional_id(self) -> str:
        if self.transactional_id:
            return self.transactional_id
        if self.group_membership == "static":
            parts = self.static_partitions()
            return "recorder-router-" + ("all" if parts is None else "-".join(map(str, parts)))
        import socket

        return f"recorder-router-{socket.gethostname()}"

    def producer_key(self) -> ProducerKey:
        """The key this process signs the records it sends with; SettingsError naming
        what to set when there is none (a producer never sends unsigned records)."""
        from recorder.provenance.keys import ProducerKey, ProducerKeys

        key_id = self.producer_key_id.strip()
        secret = self.producer_secret.get_secret_value()
        if not key_id:
            raise SettingsError(
                "RECORDER_PRODUCER_KEY_ID is required to send records: the producer key the "
                "operator issued (with RECORDER_PRODUCER_SECRET)"
            )
        if secret:
            try:
                return ProducerKey(key_id, secret.encode())
            except ValueError as exc:
                raise SettingsError(f"RECORDER_PRODUCER_SECRET: {exc}") from None
        if self.producers_file is not None:
            try:
                found = ProducerKeys.from_file(self.producers_file).key(key_id)
            except ValueError as exc:
                raise SettingsError(f"RECORDER_PRODUCERS_FILE: {exc}") from None
            if found is not None:
                return found
            raise SettingsError(
                f"RECORDER_PRODUCER_KEY_ID: {key_id!r} is not a key of {self.producers_file}"
            )
        raise SettingsError(f"RECORDER_PRODUCER_SECRET is required with key {key_id!r}")

    def admission_keys(self, counter: Any = None) -> WatchedProducerKeys:
        """The producers file every reader of ``api-events`` admits records by, watched
        for changes (``counter``: reloads by outcome). There is no default: without it
        nothing could tell one tenant's producer from another's."""
        from recorder.provenance.keys import WatchedProducerKeys

        if self.producers_file is None:
            raise SettingsError(
                "RECORDER_PRODUCERS_FILE is required: the producers, their keys and the "
                "accounts each may write for (README, Producers); `make run` and the test "
                "stack write one with a generated key"
            )
        try:
            return WatchedProducerKeys(self.producers_file, counter=counter)
        except ValueError as exc:
            raise SettingsError(f"RECORDER_PRODUCERS_FILE: {exc}") from None

    def aws_client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for any boto3/aioboto3 client of S3, SNS or KMS."""
        kwargs: dict[str, Any] = {"region_name": self.aws_region}
        if self.aws_access_key_id:
            kwargs["aws_access_key_id"] = self.aws_access_key_id
            kwargs["aws_secret_access_key"] = self.aws_secret_access_key
        if self.aws_endpoint_url:
            kwargs["endpoint_url"] = self.aws_endpoint_url
        return kwargs


#: The state file ``recorder stack up --root ROOT`` writes in ROOT (``make run``:
#: ``.stack/stack.json``); its ``environment`` member holds the stack's variables.
STACK_STATE = "stack.json"


def stack_environment(root: Path) -> dict[str, str] | None:
    """The ``RECORDER_*`` variables of the local stack started in ``root``, from its
    state file (``None`` if there is none): what a command in a shell where nothing is
    exported (a new terminal after ``make run``) reaches the stack with."""
    import json

    try:
        state = json.loads((root / STACK_STATE).read_text())
    except (OSError, ValueError):
        return None
    env = state.get("environment") if isinstance(state, dict) else None
    if not isinstance(env, dict):
        return None
    return {str(k): str(v) for k, v in env.items()}


class _EnvironSource(EnvSettingsSource):
    """pydantic-settings' environment source over a given mapping instead of os.environ.

    ``from_env`` takes the mapping so that tests pass a dict and never touch the
    process environment.
    """

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(
            self._environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )


#: What a value that does not parse should have been, by pydantic's error type.
_KINDS = {
    "int_parsing": "int",
    "int_from_float": "int",
    "float_parsing": "float",
    "bool_parsing": "bool (true|false|yes|no|on|off|1|0)",
    "path_type": "path",
}


def _settings_error(exc: ValidationError, prefix: str) -> SettingsError:
    """One line naming each bad variable and what was wrong with it."""
    problems = []
    for error in exc.errors(include_url=False):
        cause = error.get("ctx", {}).get("error")
        if isinstance(cause, SettingsError):  # from a _check: already names its variables
            problems.append(str(cause))
            continue
        name = prefix + "_".join(str(part) for part in error["loc"]).upper()
        kind = _KINDS.get(error["type"])
        if kind is not None:
            problems.append(f"{name}={error['input']!r} is not a valid {kind}")
        else:
            problems.append(f"{name}={error['input']!r}: {error['msg']}")
    return SettingsError("; ".join(problems))


def _codec_available(codec: str) -> bool:
    from aiokafka import codec as codecs

    return codec in {"none", "gzip"} or getattr(codecs, f"has_{codec}")()


def compression_kwargs(settings: Settings) -> dict[str, Any]:
    """The aiokafka producer argument for ``settings.kafka_compression``."""
    codec = settings.kafka_compression
    return {"compression_type": None if codec == "none" else codec}


def kafka_security_kwargs(settings: Settings) -> dict[str, Any]:
    """aiokafka keyword arguments for TLS and SASL, shared by every Kafka client."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return {}
    kwargs: dict[str, Any] = {"security_protocol": protocol}
    if protocol in {"SSL", "SASL_SSL"}:
        from aiokafka.helpers import create_ssl_context

        context = create_ssl_context(
            cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None,
            certfile=str(settings.kafka_ssl_certfile) if settings.kafka_ssl_certfile else None,
            keyfile=str(settings.kafka_ssl_keyfile) if settings.kafka_ssl_keyfile else None,
        )
        context.check_hostname = settings.kafka_ssl_check_hostname
        kwargs["ssl_context"] = context
    if protocol.startswith("SASL"):
        kwargs["sasl_mechanism"] = settings.kafka_sasl_mechanism
        if settings.kafka_sasl_mechanism == "OAUTHBEARER":
            kwargs["sasl_oauth_token_provider"] = msk_token_provider(settings)
        else:
            kwargs["sasl_plain_username"] = settings.kafka_sasl_username
            kwargs["sasl_plain_password"] = settings.kafka_sasl_password
    return kwargs


def msk_token_provider(settings: Settings) -> Any:
    """The OAUTHBEARER token provider of Amazon MSK's IAM authentication, signing with
    the configured keys or else the default credential chain (IRSA, instance profile)."""
    from recorder.aws.msk import MskIamTokenProvider, default_generate, generate_with_keys

    generate = (
        generate_with_keys(settings.aws_access_key_id, settings.aws_secret_access_key)
        if settings.aws_access_key_id
        else default_generate
    )
    return MskIamTokenProvider(settings.kafka_msk_region or settings.aws_region, generate=generate)
