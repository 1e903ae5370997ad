"""Issue 12, item 2: the writer re-checks a destination's grant. Trails A (Alice) and B
(Bob) are made through the control API; once A's bucket policy no longer grants
CloudTrail, A's next events are parked and GetTrailStatus shows ``AccessDenied``
naming the missing grant, while B keeps receiving every event; once the policy is
back, A's parked events arrive exactly once and the error clears.

The events are the API calls themselves: each is a management event of the caller's
account, recorded by the trail of that account.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from recorder.delivery.target import DeliveryTarget
from recorder.delivery.writer import Writer
from recorder.kafka import clients
from recorder.policies import guide
from recorder.stack.local import LocalStack
from recorder.stack.processes import free_port
from recorder.trails.destination import Destination
from tests.integration.helpers import (
    RecorderProcess,
    aws,
    cloudtrail_bucket,
    cloudtrail_key_policy,
    let_time_pass,
    read_log_files,
    wait_for,
    wait_until_async,
)
from tests.integration.test_api import ALICE, BOB, BOB_KEY, BOB_SECRET, cloudtrail, start_api
from tests.integration.test_containment import MOTO, Bucket, dest, metric, record, run

pytestmark = pytest.mark.integration

A_BUCKET, B_BUCKET = "grants-alice-logs", "grants-bob-logs"
OTHER = "999999999999"


def delivered(stack: LocalStack, bucket: str) -> list[str]:
    """Request IDs of the events in the bucket's log files, one per copy."""
    files = read_log_files(stack, bucket)
    return [str(r["requestID"]) for records in files.values() for r in records]


def grant_checks(pipeline: RecorderProcess, outcome: str) -> float:
    pattern = rf'^recorder_writer_grant_checks_total{{[^}}]*outcome="{outcome}"[^}}]*}} (\S+)$'
    return sum(float(m.group(1)) for m in re.finditer(pattern, pipeline.metrics(), re.M))


def test_revoked_bucket_grant_parks_one_trail_and_not_the_other(
    stack: LocalStack, tmp_path: Path
) -> None:
    s3 = aws(stack, "s3")
    cloudtrail_bucket(s3, A_BUCKET)
    cloudtrail_bucket(s3, B_BUCKET)
    api, port = start_api(stack, tmp_path / "api")
    pipeline = RecorderProcess(
        stack,
        ["router", "writer"],
        tmp_path / "pipeline",
        env={
            "RECORDER_GRANT_RECHECK_INTERVAL": "1",
            "RECORDER_PARK_RETRY_BASE": "1",
            "RECORDER_PARK_RETRY_MAX": "2",
        },
    ).start()
    try:
        alice = cloudtrail(port)
        bob = cloudtrail(port, key=BOB_KEY, secret=BOB_SECRET)
        a_arn = alice.create_trail(Name="alice-trail", S3BucketName=A_BUCKET)["TrailARN"]
        b_arn = bob.create_trail(Name="bob-trail", S3BucketName=B_BUCKET)["TrailARN"]
        assert (a_arn.split(":")[4], b_arn.split(":")[4]) == (ALICE, BOB)
        alice.start_logging(Name=a_arn)
        bob.start_logging(Name=b_arn)

        def calls(client: Any, n: int) -> list[str]:
            return [str(client.list_trails()["ResponseMetadata"]["RequestId"]) for _ in range(n)]

        # 1. both deliver
        first_a, first_b = calls(alice, 3), calls(bob, 3)
        wait_for(
            lambda: (
                set(first_a) <= set(delivered(stack, A_BUCKET))
                and set(first_b) <= set(delivered(stack, B_BUCKET))
            ),
            timeout=60,
            what="both trails' first events",
        )

        # 2. Alice's bucket now grants CloudTrail only for another account's folder
        s3.put_bucket_policy(
            Bucket=A_BUCKET,
            Policy=guide.bucket_policy(A_BUCKET, f"arn:aws:s3:::{A_BUCKET}/AWSLogs/{OTHER}/*"),
        )
        missing = (
            "AccessDenied: the bucket policy does not grant cloudtrail.amazonaws.com "
            f"s3:PutObject on arn:aws:s3:::{A_BUCKET}/AWSLogs/{ALICE}/*"
        )
        assert grant_checks(pipeline, "granted") >= 2
        let_time_pass(1.5, "past the re-check interval of the last check that granted")
        held_a, later_b = calls(alice, 5), calls(bob, 5)
        failing = wait_for(
            lambda: (
                (st := alice.get_trail_status(Name=a_arn)).get("LatestDeliveryError") == missing
                and st
            ),
            timeout=60,
            what="GetTrailStatus to report the missing grant",
        )
        assert failing["IsLogging"] is True
        wait_for(
            lambda: set(later_b) <= set(delivered(stack, B_BUCKET)),
            timeout=60,
            what="Bob's events while Alice's destination is parked",
        )
        assert "LatestDeliveryError" not in bob.get_trail_status(Name=b_arn)
        assert not set(held_a) & set(delivered(stack, A_BUCKET)), "delivered without a grant"
        assert pipeline.metric("recorder_writer_parked_destinations") >= 1
        assert grant_checks(pipeline, "denied") >= 1
        assert "grant_missing" in pipeline.log_text()

        # 3. the grant is back: the parked events arrive once, the error clears
        s3.put_bucket_policy(Bucket=A_BUCKET, Policy=guide.bucket_policy(A_BUCKET))
        wait_for(
            lambda: set(held_a) <= set(delivered(stack, A_BUCKET)),
            timeout=60,
            what="Alice's parked events after the grant came back",
        )
        healed = wait_for(
            lambda: "LatestDeliveryError" not in (st := alice.get_trail_status(Name=a_arn)) and st,
            timeout=60,
            what="the error to clear",
        )
        assert healed["LatestDeliveryTime"] is not None
        wait_for(
            lambda: pipeline.metric("recorder_writer_parked_destinations") == 0,
            timeout=30,
            what="nothing parked",
        )
        in_a, in_b = delivered(stack, A_BUCKET), delivered(stack, B_BUCKET)
        assert all(in_a.count(i) == 1 for i in [*first_a, *held_a])
        assert all(in_b.count(i) == 1 for i in [*first_b, *later_b])
        # in order: within each of A's files the held calls' events are in call order
        for records in read_log_files(stack, A_BUCKET).values():
            ids = [str(r["requestID"]) for r in records if r["requestID"] in held_a]
            assert ids == sorted(ids, key=held_a.index)
    finally:
        pipeline.kill()
        api.kill()


async def test_missing_key_grant_parks_the_file_and_missing_topic_grant_the_notice(
    stack: LocalStack,
) -> None:
    """A writer in this process (as in test_containment): trail 70's key policy does not
    let CloudTrail encrypt, trail 71's topic has SNS's default policy. 70's file is
    parked as AccessDenied; 71's file is delivered and its notice parked as
    AuthorizationError. With the guide's policies both go out, once."""
    s3, kms, sns, sqs = aws(stack, "s3"), aws(stack, "kms"), aws(stack, "sns"), aws(stack, "sqs")
    cloudtrail_bucket(s3, "grants-key-logs")
    cloudtrail_bucket(s3, "grants-topic-logs")
    keyed, noticed = dest(70), dest(71)
    key_arn = kms.create_key(Description="no grant")["KeyMetadata"]["Arn"]  # owner-only policy
    topic = sns.create_topic(Name="grants-notices")["TopicArn"]  # SNS's default policy
    queue_url = sqs.create_queue(QueueName="grants-notices")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    targets = {
        keyed.trail_arn: DeliveryTarget(bucket="grants-key-logs", kms_key_id=key_arn),
        noticed.trail_arn: DeliveryTarget(bucket="grants-topic-logs", sns_topic_arn=topic),
    }
    settings = stack.settings(
        cut_interval=1.0,
        metrics_port=free_port(),
        park_retry_base=1.0,
        park_retry_max=2.0,
        grant_recheck_interval=1.0,
    )
    writer = Writer(settings, targets.get)
    key_logs, topic_logs = Bucket(stack, "grants-key-logs"), Bucket(stack, "grants-topic-logs")
    producer = clients.producer(stack.settings())
    await producer.start()
    sent: dict[Destination, list[str]] = {keyed: [], noticed: []}
    gen = run(writer)
    task = await gen.__anext__()
    try:
        for _ in range(3):
            for d in (keyed, noticed):
                value, headers, event_id = record(d)
                await producer.send_and_wait("routed", value, key=d.key(), headers=headers)
                sent[d].append(event_id)
        await wait_until_async(
            lambda: (topic_logs.poll(), set(topic_logs.events()) == set(sent[noticed]))[1],
            30,
            message="trail 71's files (its notices do not hold them back)",
            task=task,
        )
        # The status names a failure before the parking lot has taken the parked copy
        # (a produce to routed-retry) and counted it: wait for both.
        await wait_until_async(
            lambda: (
                writer.status[noticed.trail_arn].latest_notification_error is not None
                and writer.status[keyed.trail_arn].latest_delivery_error is not None
                and metric(
                    writer, "recorder_writer_parked_total", kind="file", error_class="permanent"
                )
                and metric(
                    writer, "recorder_writer_parked_total", kind="notice", error_class="permanent"
                )
            ),
            30,
            message="both errors, each parked",
            task=task,
        )
        assert writer.status[keyed.trail_arn].latest_delivery_error == (
            "AccessDenied: the key policy does not grant cloudtrail.amazonaws.com "
            f"kms:GenerateDataKey* on {key_arn}"
        )
        assert writer.status[noticed.trail_arn].latest_notification_error == (
            "AuthorizationError: the topic policy does not grant cloudtrail.amazonaws.com "
            f"SNS:Publish on {topic}"
        )
        assert writer.status[noticed.trail_arn].latest_delivery_error is None
        key_logs.poll()
        assert key_logs.files == {}
        assert metric(writer, "recorder_writer_parked_total", kind="file", error_class="permanent")
        assert metric(
            writer, "recorder_writer_parked_total", kind="notice", error_class="permanent"
        )
        assert metric(
            writer, "recorder_writer_grant_checks_total", resource="key", outcome="denied"
        )
        assert metric(
            writer, "recorder_writer_grant_checks_total", resource="topic", outcome="denied"
        )

        kms.put_key_policy(
            KeyId=key_arn,
            PolicyName="default",
            Policy=cloudtrail_key_policy(MOTO, [keyed.account_id]),
        )
        sns.set_topic_attributes(
            TopicArn=topic, AttributeName="Policy", AttributeValue=guide.topic_policy(topic)
        )
        await wait_until_async(
            lambda: (key_logs.poll(), set(key_logs.events()) == set(sent[keyed]))[1],
            30,
            message="trail 70's parked files",
            task=task,
        )
        await wait_until_async(
            lambda: (
                writer.status[noticed.trail_arn].latest_notification_error is None
                and writer.status[keyed.trail_arn].latest_delivery_error is None
            ),
            30,
            message="both errors to clear",
            task=task,
        )
        assert set(key_logs.events().values()) == {1}
        notices: list[str] = []
        while got := sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=2
        ).get("Messages"):
            for m in got:
                notices += json.loads(m["Body"])["s3ObjectKey"]
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
        assert sorted(notices) == sorted(topic_logs.files)
    finally:
        await producer.stop()
        await gen.aclose()
