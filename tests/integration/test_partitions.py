"""Issue 24, item 5: recorder deployed in the aws-cn and aws-us-gov partitions.

A deployment serves one partition (its writer's identity exists in no other): its
``RECORDER_AWS_REGION`` is a China or GovCloud region. Per partition, end to end
through the doors a user uses: the trail is made with boto3 signed for the region
(its ARN is in the partition), its bucket has the guide's policy in the partition's
spelling, its data event selector names ``arn:<partition>:s3:::bucket/``; a boto3 S3
client of that region with the producer hook installed (identities from the
partition's STS) puts an object; the object's record is delivered under
``AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/`` with its resources in the
partition; a request signed for a region of another partition is refused.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from recorder.policies import guide
from recorder.producer import KafkaEventSink, install
from recorder.producer.identity import CallerIdentityResolver
from recorder.stack.local import LocalStack
from recorder.stack.processes import free_port
from tests.integration.helpers import RecorderProcess, aws, wait_until
from tests.integration.test_api import ALICE, cloudtrail, credentials_file

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("partition", "region"), [("aws-cn", "cn-north-1"), ("aws-us-gov", "us-gov-west-1")]
)
def test_a_trail_its_data_selector_and_its_delivered_keys_in_the_partition(
    stack: LocalStack, tmp_path: Path, partition: str, region: str
) -> None:
    port = free_port()
    proc = RecorderProcess(
        stack,
        ["api", "router", "writer"],
        tmp_path,
        env={
            "RECORDER_AWS_REGION": region,
            "RECORDER_API_PORT": str(port),
            "RECORDER_API_CREDENTIALS_FILE": str(credentials_file(tmp_path / "credentials.json")),
        },
    ).start()
    try:
        logs, data = f"{partition}-logs", f"{partition}-data"
        owner = aws(stack, "s3")
        for bucket in (logs, data):
            owner.create_bucket(Bucket=bucket)
        owner.put_bucket_policy(Bucket=logs, Policy=guide.bucket_policy(logs, partition=partition))

        ct = cloudtrail(port, region=region)
        arn = ct.create_trail(Name="data-trail", S3BucketName=logs)["TrailARN"]
        assert arn == f"arn:{partition}:cloudtrail:{region}:{ALICE}:trail/data-trail"
        selector = f"arn:{partition}:s3:::{data}/"
        ct.put_event_selectors(
            TrailName=arn,
            EventSelectors=[
                {
                    "ReadWriteType": "WriteOnly",
                    "IncludeManagementEvents": False,
                    "DataResources": [{"Type": "AWS::S3::Object", "Values": [selector]}],
                }
            ],
        )
        ct.start_logging(Name=arn)
        with pytest.raises(ClientError) as refused:  # the aws partition is not served here
            cloudtrail(port, region="us-east-1").list_trails()
        assert refused.value.response["Error"]["Code"] == "InvalidSignatureException"

        sink = KafkaEventSink.from_settings(stack.settings(), journal_dir=tmp_path / "journal")
        producer = boto3.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region
        )
        resolver = CallerIdentityResolver(endpoint_url=stack.aws_endpoint_url, region=region)
        install(producer, sink, resolver=resolver)
        s3 = producer.client("s3", endpoint_url=stack.aws_endpoint_url)
        s3.put_object(Bucket=data, Key="reports/1.csv", Body=b"a,b")
        assert sink.flush(60), "the event was not acknowledged by Kafka"
        sink.close()

        def delivered() -> list[str]:
            listing = owner.list_objects_v2(Bucket=logs, Prefix=f"AWSLogs/{ALICE}/CloudTrail/")
            return [o["Key"] for o in listing.get("Contents", [])]

        keys = wait_until(delivered, timeout=60, message=f"the {partition} trail's log file")
        layout = (
            rf"AWSLogs/{ALICE}/CloudTrail/{region}/\d{{4}}/\d{{2}}/\d{{2}}/"
            rf"{ALICE}_CloudTrail_{region}_\d{{8}}T\d{{4}}Z_[0-9A-Za-z]{{16}}\.json\.gz"
        )
        assert len(keys) == 1 and re.fullmatch(layout, keys[0]), keys
        body = owner.get_object(Bucket=logs, Key=keys[0])["Body"].read()
        (record,) = json.loads(gzip.decompress(body))["Records"]
        assert (record["eventSource"], record["eventName"], record["awsRegion"]) == (
            "s3.amazonaws.com",
            "PutObject",
            region,
        )
        assert record["resources"] == [
            {"type": "AWS::S3::Object", "ARN": f"arn:{partition}:s3:::{data}/reports/1.csv"},
            {"accountId": ALICE, "type": "AWS::S3::Bucket", "ARN": f"arn:{partition}:s3:::{data}"},
        ]
        assert ct.get_trail_status(Name=arn).get("LatestDeliveryError") is None
    finally:
        proc.stop()
