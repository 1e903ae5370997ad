"""``recorder demo setup|traffic``: the quick start's demo, on the embedded stack.

``setup`` creates the demo trail's bucket and SNS topic and writes the trails file
the recorder is started with; ``traffic`` makes real boto3 calls against the local
S3 and SNS with the producer hook installed, then waits for the first log file and
prints its key and first record.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import sys
import time
from pathlib import Path

from recorder.settings import Settings

ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"
TRAIL_NAME = "demo-trail"
LOG_BUCKET = "recorder-demo-logs"
TOPIC = "recorder-demo-notices"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["setup", "traffic"])
    parser.add_argument("--trails-file", type=Path, default=Path(".stack/trails.json"))
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for the file")


def trail_document() -> list[dict[str, object]]:
    return [
        {
            "Name": TRAIL_NAME,
            "TrailARN": f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/{TRAIL_NAME}",
            "HomeRegion": REGION,
            "S3BucketName": LOG_BUCKET,
            "SnsTopicARN": f"arn:aws:sns:{REGION}:{ACCOUNT}:{TOPIC}",
            "IsMultiRegionTrail": True,
            "IncludeGlobalServiceEvents": True,
            "IsOrganizationTrail": False,
            "LogFileValidationEnabled": False,
            "IsLogging": True,
            "EventSelectors": [
                {
                    "ReadWriteType": "All",
                    "IncludeManagementEvents": True,
                    "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]}],
                }
            ],
        }
    ]


def _clients(settings: Settings) -> tuple[object, object]:
    import boto3

    kw = settings.aws_client_kwargs()
    return boto3.client("s3", **kw), boto3.client("sns", **kw)


def setup(settings: Settings, trails_file: Path) -> None:
    s3, sns = _clients(settings)
    s3.create_bucket(Bucket=LOG_BUCKET)  # type: ignore[attr-defined]
    sns.create_topic(Name=TOPIC)  # type: ignore[attr-defined]
    trails_file.parent.mkdir(parents=True, exist_ok=True)
    trails_file.write_text(json.dumps(trail_document(), indent=2) + "\n")
    print(f"trail {TRAIL_NAME} -> s3://{LOG_BUCKET}  (trails file {trails_file})")


def traffic(settings: Settings, timeout: float) -> int:
    import boto3

    from recorder.producer import Identity, KafkaEventSink, install

    sink = KafkaEventSink.from_settings(settings, journal_dir=Path(".stack/journal"))
    session = boto3.Session(
        **{k: v for k, v in settings.aws_client_kwargs().items() if k != "endpoint_url"}
    )
    install(
        session,
        sink,
        identity=Identity(
            account_id=ACCOUNT, access_key_id="AKIAIOSFODNN7EXAMPLE", user_name="Alice"
        ),
    )
    endpoint = settings.aws_endpoint_url or None
    s3 = session.client("s3", endpoint_url=endpoint)
    sns = session.client("sns", endpoint_url=endpoint)
    started = time.time()
    s3.create_bucket(Bucket="demo-app-data")
    s3.put_object(Bucket="demo-app-data", Key="reports/hello.txt", Body=b"hello, recorder")
    s3.get_object(Bucket="demo-app-data", Key="reports/hello.txt")["Body"].read()
    s3.list_buckets()
    topic = sns.create_topic(Name="demo-app-events")["TopicArn"]
    sns.publish(TopicArn=topic, Message="hello")
    with contextlib.suppress(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket="demo-app-data", Key="missing.txt")
    print("made 7 API calls with the recorder hook installed; waiting for the log file ...")
    sink.close(timeout=30)
    logs = boto3.client("s3", **settings.aws_client_kwargs())
    deadline = started + timeout
    while time.time() < deadline:
        listing = logs.list_objects_v2(Bucket=LOG_BUCKET, Prefix=f"AWSLogs/{ACCOUNT}/CloudTrail/")
        keys = sorted(o["Key"] for o in listing.get("Contents", []))
        if keys:
            body = logs.get_object(Bucket=LOG_BUCKET, Key=keys[0])["Body"].read()
            records = json.loads(gzip.decompress(body))["Records"]
            print(f"log file: s3://{LOG_BUCKET}/{keys[0]}")
            print(f"records in it: {len(records)}; the first:")
            print(json.dumps(records[0], indent=2))
            return 0
        time.sleep(1)
    print(
        f"no log file in s3://{LOG_BUCKET} after {timeout:.0f}s; see .stack/logs/", file=sys.stderr
    )
    return 1


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    if args.action == "setup":
        setup(settings, args.trails_file)
        return 0
    return traffic(settings, args.timeout)
