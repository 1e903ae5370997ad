"""The sink never harms the application it lives in: bounded memory while STS is away,
no lookup on its thread, a fork gets its own thread and journal, a dead thread comes
back, and what a process left behind is adopted by the next. Real hooked botocore
clients (Stubber answers), a broker that is not there (everything ends in the journal)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import Stubber
from structlog.testing import capture_logs

from recorder.events import decode
from recorder.producer import KafkaEventSink, install
from recorder.producer.identity import Credentials, LookupResolver
from recorder.producer.record import Identity
from recorder.provenance import ProducerKey
from recorder.stack.processes import free_port

KEY = ProducerKey.generate("unit-test")
ACCOUNT = "111122223333"


def wait_for(condition: Any, timeout: float = 15.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out: {what}"
        time.sleep(0.01)


class Sts:
    """A lookup that fails as an unreachable STS does until it is let through."""

    def __init__(self) -> None:
        self.up = threading.Event()
        self.calls = 0
        self.threads: set[str] = set()

    def __call__(self, credentials: Credentials, region: str | None) -> Identity:
        self.calls += 1
        self.threads.add(threading.current_thread().name)
        if not self.up.is_set():
            raise EndpointConnectionError(endpoint_url="https://sts.us-east-1.amazonaws.com")
        return Identity(
            account_id=ACCOUNT,
            access_key_id=credentials.access_key,
            type="IAMUser",
            arn=f"arn:aws:iam::{ACCOUNT}:user/app",
            principal_id="AIDAAPP",
            user_name="app",
        )


def sink(tmp_path: Path, **kw: Any) -> KafkaEventSink:
    options: dict[str, Any] = {"send_timeout": 0.3, "probe_interval": 0.2, **kw}
    return KafkaEventSink(
        f"127.0.0.1:{free_port()}", key=KEY, journal_dir=tmp_path / "journal", **options
    )


def s3(access_key: str = "AKIDAPP") -> Any:
    return boto3.Session(
        aws_access_key_id=access_key, aws_secret_access_key="s", region_name="us-east-1"
    ).client("s3")


def calls(client: Any, n: int) -> None:
    with Stubber(client) as stub:
        for _ in range(n):
            stub.add_response("list_buckets", {"Buckets": []})
        for _ in range(n):
            client.list_buckets()


def ready_records(s: KafkaEventSink) -> list[dict[str, Any]]:
    return [
        decode(v) for seg in s.journal.segments(include_active=True) for _, v in s.journal.read(seg)
    ]


def test_sts_away_waits_in_bounded_memory_then_on_disk_and_arrives_when_sts_is_back(
    tmp_path: Path,
) -> None:
    sts = Sts()
    resolver = LookupResolver(sts, retry_base=0.05, retry_max=0.2)
    out = sink(tmp_path, buffer_size=50)
    client = s3()
    install(client, out, resolver=resolver)
    try:
        with capture_logs() as logs:
            started = time.monotonic()
            calls(client, 300)
            caller_seconds = time.monotonic() - started
            wait_for(lambda: out.awaiting.count == 300 and out._queue.qsize() == 0, what="taken")
        assert out.awaiting.held == 50  # the bound: the rest is on disk
        assert out.awaiting.journal.records == 250
        assert out.journal.records == 0  # nothing sent without its identity
        assert any(e["event"] == "identity_unavailable" for e in logs)
        assert "MainThread" not in sts.threads and "recorder-sink" not in sts.threads
        assert caller_seconds < 5  # the calls never waited for STS
        sts.up.set()
        wait_for(lambda: out.journal.records == 300, what="every record, identified")
        assert out.awaiting.count == 0
        records = ready_records(out)
        assert len({r["eventID"] for r in records}) == 300
        assert {r["userIdentity"]["arn"] for r in records} == {f"arn:aws:iam::{ACCOUNT}:user/app"}
        assert {r["recipientAccountId"] for r in records} == {ACCOUNT}
    finally:
        out.close(timeout=0.1)


def test_a_record_that_waited_too_long_goes_with_what_the_key_says(tmp_path: Path) -> None:
    moto = pytest.importorskip("moto.iam.utils")
    key = moto.generate_access_key_id_from_account_id("444455556666", "ASIA")
    sts = Sts()  # never answers
    out = sink(tmp_path, identity_wait=0.3)
    client = s3(key)
    install(client, out, resolver=LookupResolver(sts, retry_base=0.05, retry_max=0.1))
    try:
        calls(client, 3)
        wait_for(lambda: out.journal.records == 3, what="sent with what is known")
        for r in ready_records(out):
            assert r["recipientAccountId"] == "444455556666"
            assert r["userIdentity"] == {
                "type": "Unknown",
                "principalId": key,
                "accountId": "444455556666",
                "accessKeyId": key,
            }
    finally:
        out.close(timeout=0.1)


def test_a_forked_child_gets_its_own_thread_queue_and_journal(tmp_path: Path) -> None:
    out = sink(tmp_path)
    client = s3()
    install(client, out, identity=Identity(account_id=ACCOUNT, user_name="app"))
    try:
        calls(client, 5)  # the parent's, perhaps still in its queue at the fork
        pid = os.fork()
        if pid == 0:  # the child: a gunicorn worker, say
            code = 1
            try:
                assert out._queue.qsize() == 0 and out.awaiting.count == 0
                calls(client, 3)
                out.close(timeout=1.0)  # the broker is away: its 3 go to its own journal
                code = 0 if out.journal.records == 3 else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.WEXITSTATUS(status) == 0
        wait_for(lambda: out.journal.records == 5, what="the parent's own five")
        dirs = {d.name: d for d in (tmp_path / "journal").iterdir() if d.is_dir()}
        assert len(dirs) == 2 and out.directory.path.name in dirs
        (child,) = [d for n, d in dirs.items() if n != out.directory.path.name]
        assert f"-{pid}-" in child.name
        lines = sum(len(p.read_bytes().splitlines()) for p in child.glob("*.jsonl"))
        assert lines == 3
    finally:
        out.close(timeout=0.1)


def test_a_sink_thread_that_dies_is_started_again_and_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    drain = KafkaEventSink._drain
    failures = []

    def flaky(self: KafkaEventSink) -> list[tuple[bytes, bytes]]:
        got = drain(self)
        if got and not failures:
            failures.append(1)
            self._hand.extend(got)  # what it held when it died
            raise RuntimeError("a bug in the sink")
        return got

    monkeypatch.setattr(KafkaEventSink, "_drain", flaky)
    out = sink(tmp_path)
    try:
        for i in range(10):
            out.emit(ACCOUNT.encode(), f"event {i}".encode())
        wait_for(lambda: out.journal.records == 10, what="all ten journaled")
        assert out.restarts == 1 and out.metrics.producer_sink_restarts._value.get() == 1
        assert out._thread is not None and out._thread.is_alive()
    finally:
        out.close(timeout=0.1)


def test_the_next_process_adopts_what_one_left_behind(tmp_path: Path) -> None:
    first = sink(tmp_path)
    for i in range(7):
        first.emit(ACCOUNT.encode(), f"event {i}".encode())
    wait_for(lambda: first.journal.records == 7, what="journaled")
    left = first.directory.path
    first.close(timeout=0.1)  # the broker never came back: the directory stays, unlocked
    assert left.exists()
    second = sink(tmp_path)
    try:
        # the segments are counted in as they move; the emptied directory goes after
        wait_for(
            lambda: second.journal.records == 7 and not left.exists(),
            what="adopted, and the directory left behind removed",
        )
        values = {v for seg in second.journal.segments() for _, v in second.journal.read(seg)}
        assert values == {f"event {i}".encode() for i in range(7)}
    finally:
        second.close(timeout=0.1)


def test_the_default_journal_root_is_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from recorder.settings import Settings, default_journal_dir

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert default_journal_dir() == tmp_path / "state" / "recorder" / "journal"
    monkeypatch.chdir(tmp_path)
    relative = Settings.from_env({"RECORDER_JOURNAL_DIR": "spill"})
    assert relative.journal_dir == tmp_path / "spill"  # fixed at start, not per call
    assert Settings().journal_dir.is_absolute()
