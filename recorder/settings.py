"""One typed settings object, read from ``RECORDER_*`` environment variables.

Every service takes a :class:`Settings`; nothing reads the environment anywhere
else, so a test can build one by hand and a bad value is reported once, at start,
with the variable's name.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any


class SettingsError(ValueError):
    """A ``RECORDER_*`` variable has a value the service cannot run with."""


@dataclass(frozen=True, slots=True)
class Topics:
    api_events: str = "api-events"
    routed: str = "routed"
    delivered: str = "delivered"
    trails: str = "trails"
    dlq: str = "api-events-dlq"
    digest_state: str = "digest-state"


@dataclass(frozen=True, slots=True)
class Settings:
    # Kafka
    bootstrap_servers: str = "127.0.0.1:29092"
    partitions: int = 4
    # AWS-compatible endpoints (S3, SNS, KMS); empty means the real AWS endpoints.
    aws_endpoint_url: str = ""
    aws_region: str = "us-east-1"
    aws_access_key_id: str = "testing"
    aws_secret_access_key: str = "testing"
    # Delivery
    cut_interval: float = 300.0
    batch_max_records: int = 10_000
    batch_max_bytes: int = 8 * 1024 * 1024
    # Skeleton trail configuration (replaced by the `trails` topic registry).
    trails_file: Path | None = None
    # Producer journal (spill-over when Kafka is unreachable).
    journal_dir: Path = Path(".recorder-journal")
    producer_buffer: int = 10_000
    # Observability / control
    metrics_port: int = 9464
    api_port: int = 8080
    log_level: str = "info"
    digest_interval: float = 3600.0
    # Digest signing keys: an operator's PEM file, or rings generated and kept in
    # S3 sealed under a KMS data key (envelope encryption).
    signing_key_file: Path | None = None
    signing_key_password: str = ""
    keys_bucket: str = "recorder-digest-keys"
    keys_kms_key_id: str = "alias/recorder-digest-keys"
    topics: Topics = field(default_factory=Topics)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from ``RECORDER_<FIELD>`` variables; overrides win."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name == "topics":
                continue
            name = f"RECORDER_{f.name.upper()}"
            if name in env:
                values[f.name] = _coerce(name, f.type, env[name])
        values.update(overrides)
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        problems = []
        if not self.bootstrap_servers.strip():
            problems.append("RECORDER_BOOTSTRAP_SERVERS must name at least one host:port")
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
        if self.producer_buffer < 1:
            problems.append(f"RECORDER_PRODUCER_BUFFER must be >= 1, got {self.producer_buffer}")
        if self.log_level.lower() not in {"debug", "info", "warning", "error"}:
            problems.append(
                f"RECORDER_LOG_LEVEL must be debug|info|warning|error, got {self.log_level!r}"
            )
        if self.digest_interval <= 0:
            problems.append(f"RECORDER_DIGEST_INTERVAL must be > 0, got {self.digest_interval}")
        if problems:
            raise SettingsError("; ".join(problems))

    def aws_client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for any boto3/aioboto3 client of S3, SNS or KMS."""
        kwargs: dict[str, Any] = {
            "region_name": self.aws_region,
            "aws_access_key_id": self.aws_access_key_id,
            "aws_secret_access_key": self.aws_secret_access_key,
        }
        if self.aws_endpoint_url:
            kwargs["endpoint_url"] = self.aws_endpoint_url
        return kwargs


def _coerce(name: str, annotation: Any, raw: str) -> Any:
    kind = str(annotation)
    try:
        if "int" in kind and "float" not in kind:
            return int(raw)
        if "float" in kind:
            return float(raw)
        if "Path" in kind:
            return Path(raw) if raw else None
        if "bool" in kind:
            if raw.lower() in {"1", "true", "yes", "on"}:
                return True
            if raw.lower() in {"0", "false", "no", "off"}:
                return False
            raise ValueError(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a valid {kind}") from None
    return raw
