"""Issue 2 acceptance: a boto3 call with the hook installed ends up as a CloudTrail
record inside a gzip log file in S3, through the real broker, the real router and
writer processes and the real S3 server; and a broker outage loses nothing."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from aiokafka import AIOKafkaConsumer

from recorder.events import decode
from recorder.producer import Identity, KafkaEventSink, install
from recorder.stack.local import LocalStack
from tests.integration.helpers import (
    RecorderProcess,
    aws,
    cloudtrail_bucket,
    read_log_files,
    wait_for,
    write_trails,
)

pytestmark = pytest.mark.integration

ACCOUNT = "123456789012"
LOG_BUCKET = "pipeline-logs"
FILE_NAME = re.compile(r"^\d{12}_CloudTrail_[a-z0-9-]+_\d{8}T\d{4}Z_[A-Za-z0-9]{16}\.json\.gz$")
TRAIL_ARN = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/pipeline"


@pytest.fixture(scope="module")
def recorder(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Any:
    work = tmp_path_factory.mktemp("recorder")
    cloudtrail_bucket(aws(stack, "s3"), LOG_BUCKET)
    trails = write_trails(
        work / "trails.json",
        [
            {
                "Name": "pipeline",
                "TrailARN": TRAIL_ARN,
                "HomeRegion": "us-east-1",
                "S3BucketName": LOG_BUCKET,
                "IsMultiRegionTrail": True,
                "IncludeGlobalServiceEvents": True,
                "EventSelectors": [
                    {
                        "ReadWriteType": "All",
                        "IncludeManagementEvents": True,
                        "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]}],
                    }
                ],
            }
        ],
    )
    proc = RecorderProcess(
        stack, ["router", "writer"], work, env={"RECORDER_TRAILS_FILE": str(trails)}
    )
    proc.start()
    yield proc
    proc.stop()


def _session(stack: LocalStack, sink: KafkaEventSink, seen: list[dict[str, Any]]) -> Any:
    session = boto3.Session(
        region_name="us-east-1", aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key="x"
    )
    inst = install(
        session,
        sink,
        identity=Identity(
            account_id=ACCOUNT, access_key_id="AKIAIOSFODNN7EXAMPLE", user_name="Alice"
        ),
    )
    inst.on_record = seen.append
    return session


def test_boto3_call_to_record_in_s3(
    stack: LocalStack, recorder: RecorderProcess, tmp_path: Path
) -> None:
    sink = KafkaEventSink.from_settings(stack.settings(), journal_dir=tmp_path / "journal")
    seen: list[dict[str, Any]] = []
    s3 = _session(stack, sink, seen).client("s3", endpoint_url=stack.aws_endpoint_url)
    s3.create_bucket(Bucket="app-data")
    s3.put_object(Bucket="app-data", Key="reports/q3.csv", Body=b"a,b\n1,2\n")
    assert sink.flush(30)
    sink.close()
    put_id = next(r["eventID"] for r in seen if r["eventName"] == "PutObject")

    def delivered() -> dict[str, Any] | None:
        for key, records in read_log_files(stack, LOG_BUCKET).items():
            for r in records:
                if r["eventID"] == put_id:
                    return {"key": key, "record": r}
        return None

    found = wait_for(delivered, 60, what="the PutObject record in a log file")
    folder, name = found["key"].rsplit("/", 1)
    assert FILE_NAME.match(name), name
    assert re.fullmatch(rf"AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/\d{{4}}/\d{{2}}/\d{{2}}", folder)
    record = found["record"]
    assert record["eventSource"] == "s3.amazonaws.com"
    assert record["eventName"] == "PutObject"
    assert record["awsRegion"] == "us-east-1"
    # the S3 User Guide's form: the bucket and key, and the host the call went to
    host = urlsplit(stack.aws_endpoint_url).hostname
    assert record["requestParameters"] == {
        "bucketName": "app-data",
        "key": "reports/q3.csv",
        "host": [host],
    }
    assert record["additionalEventData"]["SignatureVersion"] == "SigV4"
    assert record["userIdentity"]["accessKeyId"] == "AKIAIOSFODNN7EXAMPLE"
    assert record["userIdentity"]["accountId"] == ACCOUNT
    assert record["recipientAccountId"] == ACCOUNT
    assert record["readOnly"] is False
    assert record["managementEvent"] is False
    assert record["eventCategory"] == "Data"
    assert {"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::app-data/reports/q3.csv"} in record[
        "resources"
    ]
    assert {
        "accountId": ACCOUNT,
        "type": "AWS::S3::Bucket",
        "ARN": "arn:aws:s3:::app-data",
    } in record["resources"]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", record["eventTime"])
    # the guide's field order (line 11427): eventVersion first, eventCategory last
    keys = list(record)
    assert keys[0] == "eventVersion" and keys.index("eventTime") < keys.index("eventSource")


async def _api_event_ids(stack: LocalStack) -> Counter[str]:
    consumer = AIOKafkaConsumer(
        "api-events",
        bootstrap_servers=stack.bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    ids: Counter[str] = Counter()
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=2000, max_records=5000)
            if not batch:
                break
            for msgs in batch.values():
                for m in msgs:
                    ids[decode(m.value)["eventID"]] += 1
    finally:
        await consumer.stop()
    return ids


def test_broker_outage_loses_nothing(
    stack: LocalStack, recorder: RecorderProcess, tmp_path: Path
) -> None:
    sink = KafkaEventSink.from_settings(
        stack.settings(), journal_dir=tmp_path / "journal", send_timeout=2.0
    )
    seen: list[dict[str, Any]] = []
    s3 = _session(stack, sink, seen).client("s3", endpoint_url=stack.aws_endpoint_url)
    s3.create_bucket(Bucket="outage-data")
    assert sink.flush(30)
    seen.clear()

    stack.stop_broker()
    for i in range(1000):
        s3.put_object(Bucket="outage-data", Key=f"k/{i}", Body=b"x")  # must not raise
    # Records are built on the sink's thread; nothing reached Kafka: the events wait in
    # the buffer or the journal.
    wait_for(lambda: len(seen) == 1000 or None, 60, what="1000 records built")
    assert sink.pending == 1000
    stack.start_broker()
    assert sink.flush(120), f"{sink.pending} events still pending after the broker came back"
    sink.close()

    wanted = {r["eventID"] for r in seen}
    in_kafka = asyncio.run(_api_event_ids(stack))
    assert wanted <= set(in_kafka), f"{len(wanted - set(in_kafka))} events never reached Kafka"

    def all_delivered() -> Counter[str] | None:
        counts: Counter[str] = Counter()
        for records in read_log_files(stack, LOG_BUCKET).values():
            counts.update(r["eventID"] for r in records if r["eventID"] in wanted)
        return counts if set(counts) == wanted else None

    counts = wait_for(all_delivered, 120, interval=2, what="all 1000 events in log files")
    assert sum(counts.values()) == 1000, "an event appears in more than one log file"
    assert max(counts.values()) == 1
