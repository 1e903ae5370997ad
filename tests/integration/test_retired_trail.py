"""Issue 27 acceptance, item 3: a deleted trail's late events still reach its last
bucket after a restart that follows compaction.

A trail made and started through the control API; a call made with the producer
hook while the broker is out of the producer's reach (its record waits in the
producer's journal); DeleteTrail, then another trail made (the next segment). The
recorder is stopped, and the broker compacts `trails` (here a topic of the test's own
with a short segment time, so compaction runs within seconds): of the trail's records
only the last is left, the retired record DeleteTrail wrote. A new recorder process (no memory of the trail) starts; the
producer reaches the broker and replays its journal: the event, made before the
deletion, is routed by the retired record and delivered to the trail's bucket.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import boto3
import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from recorder.kafka.partitions import read_range
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
from tests.integration.test_api import ALICE, REGION, cloudtrail, credentials_file

pytestmark = pytest.mark.integration

TOPIC = "trails-compacting"
BUCKET = "retired-logs"
ARN = f"arn:aws:cloudtrail:{REGION}:{ALICE}:trail/retired"


async def _create_topic(stack: LocalStack) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.bootstrap_servers)
    await admin.start()
    try:
        configs = {
            "cleanup.policy": "compact",
            "message.timestamp.type": "LogAppendTime",
            "segment.ms": "100",
            "min.cleanable.dirty.ratio": "0.01",
        }
        await admin.create_topics([NewTopic(TOPIC, 1, 1, topic_configs=configs)])
    finally:
        await admin.close()


async def _records_of(stack: LocalStack, key: str) -> list[bytes | None]:
    records = read_range(stack.settings(), TopicPartition(TOPIC, 0))
    return [m.value async for m in records if m.key == key.encode()]


def test_deleted_trails_late_events_reach_its_bucket_after_compaction_and_restart(
    stack: LocalStack, tmp_path: Path
) -> None:
    cloudtrail_bucket(aws(stack, "s3"), BUCKET)
    asyncio.run(_create_topic(stack))
    port = free_port()
    env = {
        "RECORDER_TOPIC_TRAILS": TOPIC,
        "RECORDER_API_PORT": str(port),
        "RECORDER_API_CREDENTIALS_FILE": str(credentials_file(tmp_path / "credentials.json")),
    }
    services = ["api", "router", "writer"]
    first = RecorderProcess(stack, services, tmp_path / "first", env=env).start()
    journal = tmp_path / "journal"
    session = boto3.Session(
        region_name=REGION, aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key="x"
    )
    try:
        ct = cloudtrail(port)
        ct.create_trail(Name="retired", S3BucketName=BUCKET, S3KeyPrefix="last")
        ct.start_logging(Name="retired")
        # a producer that cannot reach the broker: the call's record waits in its journal
        away = KafkaEventSink(
            f"127.0.0.1:{free_port()}",
            key=stack.producer_key(),
            journal_dir=journal,
            send_timeout=1.0,
        )
        install(session, away, identity=Identity(account_id=ALICE, user_name="Alice"))
        sns = session.client("sns", region_name=REGION, endpoint_url=stack.aws_endpoint_url)
        sns.create_topic(Name="made-before-the-delete")
        wait_for(lambda: away.journal.records >= 1, 30, what="the record journaled")
        away.close(timeout=1)
        time.sleep(1.1)  # the deletion is at least a second after the call
        ct.delete_trail(Name="retired")
        # into the next second (an event in the deletion's second counts as before it,
        # recorder.trails.logging_state) and past the segment time: the next write
        # starts a new segment
        time.sleep(1.2 - time.time() % 1.0)
        ct.create_trail(Name="another", S3BucketName=BUCKET)  # and the old one is cleaned
    finally:
        first.stop()

    def compacted() -> bool:
        # the last record, DeleteTrail's retired record, is all that is left of the trail
        records = asyncio.run(_records_of(stack, ARN))
        return len(records) == 1 and records[0] is not None and b"DeletedAt" in records[0]

    wait_for(compacted, 60, interval=2, what="trails compacted to the retired record")
    second = RecorderProcess(stack, services, tmp_path / "second", env=env).start()
    back = KafkaEventSink(stack.bootstrap_servers, key=stack.producer_key(), journal_dir=journal)
    try:

        def delivered() -> list[tuple[str, str]]:
            files = read_log_files(stack, BUCKET, f"last/AWSLogs/{ALICE}/CloudTrail/")
            names = [(r["eventSource"], r["eventName"]) for rs in files.values() for r in rs]
            return names if ("sns.amazonaws.com", "CreateTopic") in names else []

        names = wait_for(delivered, 60, what="the late event in the deleted trail's bucket")
        # with the control API's own records of the trail's calls, up to its DeleteTrail
        assert sorted(names) == [
            ("cloudtrail.amazonaws.com", "DeleteTrail"),
            ("cloudtrail.amazonaws.com", "StartLogging"),
            ("sns.amazonaws.com", "CreateTopic"),
        ]
        assert "trail_retired" not in second.log_text()  # from its record, not a tombstone
    finally:
        back.close()
        second.stop()
