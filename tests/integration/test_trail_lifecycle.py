"""Issue 13 item 5: a trail records events up to and including its own StopLogging
(guide line 8394) and DeleteTrail call, and none after; routing judges each event by
the trail's state at the event's time, so a late event from before the stop still
reaches the trail.

One ``recorder run api router writer`` process on the real broker and moto; trails
through the real ``aws`` CLI; events from a boto3 client with the producer hook and
from the control API's own records of its calls.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from recorder.events import encode
from recorder.producer import Identity, KafkaEventSink, install
from recorder.stack.local import LocalStack
from recorder.stack.processes import free_port
from tests.integration.helpers import (
    RecorderProcess,
    aws,
    cloudtrail_bucket,
    read_log_files,
    wait_for,
)

pytestmark = pytest.mark.integration

ACCOUNT = "123456789012"  # the control API's default key testing/testing
REGION = "us-east-1"
AWS_CLI = str(Path(sys.executable).with_name("aws"))


@dataclass
class Env:
    stack: LocalStack
    proc: RecorderProcess
    port: int
    work: Path

    def cli(self, *args: str) -> Any:
        env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": str(self.work / "no-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.work / "no-credentials"),
        }
        env.pop("AWS_PROFILE", None)
        done = subprocess.run(
            [AWS_CLI, "cloudtrail", *args, "--endpoint-url", f"http://127.0.0.1:{self.port}"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else None

    def trail(self, name: str, bucket: str) -> str:
        cloudtrail_bucket(
            aws(self.stack, "s3"), bucket, f"arn:aws:s3:::{bucket}/AWSLogs/{ACCOUNT}/*"
        )
        arn = self.cli("create-trail", "--name", name, "--s3-bucket-name", bucket)["TrailARN"]
        self.cli("start-logging", "--name", name)
        return str(arn)

    def records(self, bucket: str) -> dict[str, list[dict[str, Any]]]:
        return read_log_files(self.stack, bucket)


@pytest.fixture(scope="module")
def env(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    work = tmp_path_factory.mktemp("lifecycle")
    port = free_port()
    proc = RecorderProcess(
        stack,
        ["api", "router", "writer"],
        work,
        env={"RECORDER_API_PORT": str(port), "RECORDER_CUT_INTERVAL": "1"},
    ).start()
    try:
        yield Env(stack, proc, port, work)
    finally:
        proc.stop()


def _hooked_s3(stack: LocalStack, sink: KafkaEventSink, seen: list[dict[str, Any]]) -> Any:
    session = boto3.Session(
        region_name=REGION, aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key="x"
    )
    inst = install(
        session,
        sink,
        identity=Identity(account_id=ACCOUNT, access_key_id="AKIAIOSFODNN7EXAMPLE", user_name="a"),
    )
    inst.on_record = seen.append
    return session.client("s3", endpoint_url=stack.aws_endpoint_url)


def _next_second(moment: dt.datetime) -> None:
    """Wait until the clock is past the second of ``moment``: an event after it then
    has a later eventTime, which is all a record can tell."""
    second = moment.replace(microsecond=0)
    wait_for(
        lambda: dt.datetime.now(dt.UTC) >= second + dt.timedelta(seconds=1),
        5,
        interval=0.05,
        what="the next second",
    )


def _find(files: dict[str, list[dict[str, Any]]], pred: Any) -> list[tuple[str, dict[str, Any]]]:
    return [(key, r) for key, records in files.items() for r in records if pred(r)]


def test_stop_logging_is_the_last_event_of_the_trail(env: Env, tmp_path: Path) -> None:
    stopper = env.trail("stopper", "stopper-logs")
    env.trail("witness", "witness-logs")  # keeps logging: shows the later event was routed
    sink = KafkaEventSink.from_settings(env.stack.settings(), journal_dir=tmp_path / "journal")
    seen: list[dict[str, Any]] = []
    s3 = _hooked_s3(env.stack, sink, seen)
    s3.list_buckets()  # before StopLogging
    assert sink.flush(30)
    env.cli("stop-logging", "--name", "stopper")
    status = env.cli("get-trail-status", "--name", "stopper")
    assert status["IsLogging"] is False
    _next_second(dt.datetime.fromtimestamp(status["StopLoggingTime"], dt.UTC))
    s3.head_bucket(Bucket="witness-logs")  # after StopLogging
    assert sink.flush(30)
    sink.close()
    before = next(r["eventID"] for r in seen if r["eventName"] == "ListBuckets")
    after = next(r["eventID"] for r in seen if r["eventName"] == "HeadBucket")

    def is_stop(r: dict[str, Any]) -> bool:
        return (
            r["eventName"] == "StopLogging"
            and r["eventSource"] == "cloudtrail.amazonaws.com"
            and (r.get("requestParameters") or {}).get("name") == "stopper"
        )

    # the later event reached the witness trail: the router has routed it
    wait_for(
        lambda: _find(env.records("witness-logs"), lambda r: r["eventID"] == after),
        60,
        what="the event after StopLogging in the witness trail",
    )
    files = wait_for(
        lambda: (f := env.records("stopper-logs")) and _find(f, is_stop) and f,
        60,
        what="the StopLogging record in the stopped trail's files",
    )
    # every delivery the router made to the stopped trail is in its files by now
    matches = f'recorder_router_matches_total{{trail_arn="{stopper}"}}'
    wait_for(
        lambda: (
            sum(len(rs) for rs in env.records("stopper-logs").values())
            >= _sample(env.proc.metrics(), matches)
        ),
        30,
        what="the stopped trail's deliveries in files",
    )
    files = env.records("stopper-logs")
    assert sum(len(rs) for rs in files.values()) == _sample(env.proc.metrics(), matches)
    [(stop_key, stop_record)] = _find(files, is_stop)
    delivered = _delivery_times(env.stack, "stopper-logs")
    # StopLogging is in the trail's last file: a file delivered after it holds only
    # events of the StopLogging's own second (eventTime has whole seconds, and a period
    # ends with its whole second: here the GetTrailStatus just after the stop)
    for key, records in files.items():
        if delivered[key] > delivered[stop_key]:
            assert {r["eventTime"] for r in records} == {stop_record["eventTime"]}, (
                f"{key}, delivered after the StopLogging file, holds later events"
            )
    assert _find(files, lambda r: r["eventID"] == before), "the event before StopLogging"
    assert not _find(files, lambda r: r["eventID"] == after), "the event after StopLogging"
    assert all(r["eventTime"] <= stop_record["eventTime"] for _, r in _find(files, bool))
    assert stop_record["readOnly"] is False
    assert stop_record["userIdentity"]["accountId"] == ACCOUNT


def test_deleted_trail_keeps_its_late_events_and_its_delete_call(env: Env, tmp_path: Path) -> None:
    env.trail("doomed", "doomed-logs")
    before_delete = dt.datetime.now(dt.UTC)
    env.cli("delete-trail", "--name", "doomed")
    deleted_at = dt.datetime.now(dt.UTC)
    _next_second(deleted_at)
    sink = KafkaEventSink.from_settings(env.stack.settings(), journal_dir=tmp_path / "journal")
    late, later = str(uuid.uuid4()), str(uuid.uuid4())
    # produced after the deletion, but of before it (a producer's delayed journal)
    sink.emit(ACCOUNT.encode(), encode(_record(late, before_delete)))
    sink.emit(ACCOUNT.encode(), encode(_record(later, dt.datetime.now(dt.UTC))))
    assert sink.flush(30)
    sink.close()

    def is_delete(r: dict[str, Any]) -> bool:
        return (
            r["eventName"] == "DeleteTrail"
            and (r.get("requestParameters") or {}).get("name") == "doomed"
        )

    files = wait_for(
        lambda: (
            (f := env.records("doomed-logs"))
            and _find(f, is_delete)
            and _find(f, lambda r: r["eventID"] == late)
            and f
        ),
        60,
        what="the DeleteTrail record and the late event in the deleted trail's files",
    )
    assert not _find(files, lambda r: r["eventID"] == later)
    assert "TrailNotFoundException" in _cli_error(env, "get-trail", "--name", "doomed")


def _record(event_id: str, when: dt.datetime) -> dict[str, Any]:
    return {
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLE",
            "arn": f"arn:aws:iam::{ACCOUNT}:user/a",
            "accountId": ACCOUNT,
            "userName": "a",
        },
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "ec2.amazonaws.com",
        "eventName": "RunInstances",
        "awsRegion": REGION,
        "sourceIPAddress": "192.0.2.1",
        "userAgent": "test",
        "requestParameters": None,
        "responseElements": None,
        "eventID": event_id,
        "eventType": "AwsApiCall",
        "recipientAccountId": ACCOUNT,
    }


def _delivery_times(stack: LocalStack, bucket: str) -> dict[str, dt.datetime]:
    listing = aws(stack, "s3").list_objects_v2(Bucket=bucket, Prefix="AWSLogs/")
    return {
        o["Key"]: o["LastModified"]
        for o in listing.get("Contents", [])
        if "/CloudTrail/" in o["Key"]
    }


def _sample(metrics: str, sample: str) -> float:
    for line in metrics.splitlines():
        if line.startswith(sample + " "):
            return float(line.split()[-1])
    return 0.0


def _cli_error(env: Env, *args: str) -> str:
    done = subprocess.run(
        [AWS_CLI, "cloudtrail", *args, "--endpoint-url", f"http://127.0.0.1:{env.port}"],
        env={
            **os.environ,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    return done.stderr
