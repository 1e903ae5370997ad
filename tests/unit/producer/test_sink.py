"""The Kafka sink's promises that need no broker: the caller's thread never touches the
journal, and the sink is configured like the services (TLS/SASL from settings)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from recorder.producer import KafkaEventSink
from recorder.producer.journal import Journal
from recorder.settings import Settings
from recorder.stack.processes import free_port


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
    )
    sink = KafkaEventSink.from_settings(settings, probe_interval=60)
    try:
        assert sink.bootstrap_servers == "broker:9093"
        assert sink.topic == settings.topics.api_events
        assert sink.kafka_options["security_protocol"] == "SASL_PLAINTEXT"
        assert sink.kafka_options["sasl_mechanism"] == "SCRAM-SHA-512"
        assert sink.kafka_options["sasl_plain_username"] == "producer"
        assert sink.journal.directory == tmp_path / "journal"
    finally:
        sink.close(timeout=0.1)
