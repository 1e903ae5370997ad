"""The Kafka sink's promises that need no broker: the caller's thread never touches the
journal, and the sink is configured like the services (TLS/SASL from settings)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from recorder.producer import KafkaEventSink
from recorder.producer.journal import Journal
from recorder.provenance import ProducerKey
from recorder.settings import Settings
from recorder.stack.processes import free_port

KEY = ProducerKey.generate("unit-test")


def test_a_full_buffer_spills_on_the_sinks_thread_not_the_callers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writers: list[str] = []
    append = Journal.append

    def spy(self: Journal, records: list[tuple[bytes, bytes]]) -> None:
        writers.append(threading.current_thread().name)
        append(self, records)

    monkeypatch.setattr(Journal, "append", spy)
    # nothing listens on this port: every event ends in the journal
    sink = KafkaEventSink(
        f"127.0.0.1:{free_port()}",
        key=KEY,
        journal_dir=tmp_path / "journal",
        buffer_size=5,
        send_timeout=0.5,
    )
    try:
        for i in range(200):
            sink.emit(b"111122223333", f"event {i}".encode())
        assert not sink.flush(timeout=0.5)
        assert writers, "the broker is down: events should have been journaled"
        assert set(writers) == {"recorder-sink"}
        sink._stop.set()
        sink._thread.join(10)
        assert sink.journal.records == 200
    finally:
        sink._stop.set()


def test_from_settings_takes_the_services_tls_and_sasl(tmp_path: Path) -> None:
    settings = Settings(
        bootstrap_servers="broker:9093",
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="producer",
        kafka_sasl_password="secret",
        journal_dir=tmp_path / "journal",
        producer_key_id="unit-test",
        producer_secret=KEY.secret.decode(),
    )
    sink = KafkaEventSink.from_settings(settings, probe_interval=60)
    try:
        assert sink.bootstrap_servers == "broker:9093"
        assert sink.topic == settings.topics.api_events
        assert sink.kafka_options["security_protocol"] == "SASL_PLAINTEXT"
        assert sink.kafka_options["sasl_mechanism"] == "SCRAM-SHA-512"
        assert sink.kafka_options["sasl_plain_username"] == "producer"
        assert sink.journal_root == tmp_path / "journal"  # this process writes its own below
        assert sink.journal.directory.parent == tmp_path / "journal"
    finally:
        sink.close(timeout=0.1)


def test_a_failing_broker_is_a_warning_naming_the_journals_size(tmp_path: Path) -> None:
    from structlog.testing import capture_logs

    with capture_logs() as logs:
        sink = KafkaEventSink(
            f"127.0.0.1:{free_port()}", key=KEY, journal_dir=tmp_path / "journal", send_timeout=0.5
        )
        try:
            sink.emit(b"111122223333", b"event")
            assert not sink.flush(timeout=1.5)
        finally:
            sink.close(timeout=0.1)
    warnings = [e for e in logs if e["event"] == "broker_unavailable"]
    assert warnings and warnings[0]["log_level"] == "warning"
    assert "journal_records" in warnings[0] and "journal_dir" in warnings[0]


def test_an_identity_lookup_that_fails_is_retried_not_dropped(tmp_path: Path) -> None:
    """STS unreachable for a while: the capture waits, then its record is kept."""
    import boto3
    from botocore.exceptions import EndpointConnectionError
    from botocore.stub import Stubber

    from recorder.producer import Identity, install

    attempts: list[int] = []

    def resolver(creds: object) -> Identity:
        attempts.append(1)
        if len(attempts) < 3:
            raise EndpointConnectionError(endpoint_url="https://sts.amazonaws.com")
        return Identity(account_id="111122223333")

    sink = KafkaEventSink(
        f"127.0.0.1:{free_port()}",
        key=KEY,
        journal_dir=tmp_path / "journal",
        send_timeout=0.2,
        probe_interval=0.1,
    )
    try:
        s3 = boto3.Session(
            aws_access_key_id="AKID", aws_secret_access_key="s", region_name="us-east-1"
        ).client("s3")
        install(s3, sink, resolver=resolver)
        with Stubber(s3) as stub:
            stub.add_response("list_buckets", {"Buckets": []})
            s3.list_buckets()
        deadline = time.monotonic() + 20
        while sink.journal.records == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sink.journal.records == 1  # resolved on the third try, kept while Kafka is away
        assert len(attempts) == 3 and sink.render_errors == 0
    finally:
        sink.close(timeout=0.1)
