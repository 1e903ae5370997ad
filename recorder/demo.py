"""``recorder demo setup|trail|traffic``: the quick start's demo, on the embedded stack.

``setup`` creates the demo trail's bucket and SNS topic with the policies the guide
shows (lines 10092-10115 and 10350), so CloudTrail's checks pass; with
``--trails-file`` it also writes a trails file, for running without the control API.
``trail`` creates the demo trail as a user would: boto3 against the authenticated
control API (CreateTrail, PutEventSelectors, StartLogging), and prints the ``aws
cloudtrail`` commands that show it. ``traffic`` makes real boto3 calls against the
local S3 and SNS with the producer hook installed, then waits for the first log file
and prints its key and first record.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from recorder.policies import guide
from recorder.retry import Backoff, retry_sync
from recorder.settings import Settings, stack_environment
from recorder.trails import trail_arn

ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"
TRAIL_NAME = "demo-trail"
LOG_BUCKET = "recorder-demo-logs"
TOPIC = "recorder-demo-notices"


#: The local stack's control-API key (RECORDER_API_LOCAL_DEVELOPMENT accepts it).
API_KEY = API_SECRET = "testing"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["setup", "trail", "traffic", "insights"])
    parser.add_argument(
        "--trails-file", type=Path, default=None, help="setup: also write this trails file"
    )
    parser.add_argument("--api-url", default=None, help="trail: the control API's URL")
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds to wait")
    parser.add_argument(
        "--stack",
        type=Path,
        default=Path(".stack"),
        help="the local stack `make run` started (its stack.json), used when no "
        "RECORDER_BOOTSTRAP_SERVERS is set",
    )


def demo_settings(stack: Path, environ: Mapping[str, str] | None = None) -> Settings:
    """The settings from ``RECORDER_*`` variables; in a shell that has none (a new
    terminal after ``make run``), those of the local stack running in ``stack``."""
    env = dict(os.environ if environ is None else environ)
    if "RECORDER_BOOTSTRAP_SERVERS" not in env:
        found = stack_environment(stack)
        if found is not None:
            print(f"using the local stack in {stack} (its stack.json)", file=sys.stderr)
            env = {**found, **env}
    return Settings.from_env(env)


def trail_document() -> list[dict[str, object]]:
    return [
        {
            "Name": TRAIL_NAME,
            "TrailARN": trail_arn(REGION, ACCOUNT, TRAIL_NAME),
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


def setup(settings: Settings, trails_file: Path | None) -> None:
    s3, sns = _clients(settings)
    s3.create_bucket(Bucket=LOG_BUCKET)  # type: ignore[attr-defined]
    objects = f"arn:aws:s3:::{LOG_BUCKET}/AWSLogs/{ACCOUNT}/*"
    s3.put_bucket_policy(Bucket=LOG_BUCKET, Policy=guide.bucket_policy(LOG_BUCKET, objects))  # type: ignore[attr-defined]
    arn = sns.create_topic(Name=TOPIC)["TopicArn"]  # type: ignore[attr-defined]
    sns.set_topic_attributes(  # type: ignore[attr-defined]
        TopicArn=arn, AttributeName="Policy", AttributeValue=guide.topic_policy(arn)
    )
    print(f"bucket s3://{LOG_BUCKET} and topic {TOPIC}, with policies granting CloudTrail")
    if trails_file is not None:
        trails_file.parent.mkdir(parents=True, exist_ok=True)
        trails_file.write_text(json.dumps(trail_document(), indent=2) + "\n")
        print(f"trail {TRAIL_NAME} -> s3://{LOG_BUCKET}  (trails file {trails_file})")


def api_url(settings: Settings, given: str | None) -> str:
    return given or f"http://127.0.0.1:{settings.api_port}"


def create_trail(settings: Settings, url: str, timeout: float) -> int:
    """The demo trail through the control API, as a user makes it with boto3."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    ct = boto3.client(
        "cloudtrail",
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id=API_KEY,
        aws_secret_access_key=API_SECRET,
        config=Config(retries={"mode": "standard"}),
    )
    try:  # the API starts with the recorder: wait until it answers
        retry_sync(ct.list_trails, Backoff(base=0.5, cap=2.0, give_up_after=timeout))
    except (BotoCoreError, ClientError) as exc:
        print(f"the control API at {url} did not answer: {exc}", file=sys.stderr)
        return 1
    with contextlib.suppress(ct.exceptions.TrailAlreadyExistsException):
        ct.create_trail(
            Name=TRAIL_NAME,
            S3BucketName=LOG_BUCKET,
            SnsTopicName=TOPIC,
            IsMultiRegionTrail=True,
            IncludeGlobalServiceEvents=True,
        )
    selectors = trail_document()[0]["EventSelectors"]
    ct.put_event_selectors(TrailName=TRAIL_NAME, EventSelectors=selectors)
    ct.start_logging(Name=TRAIL_NAME)
    env = f"AWS_ACCESS_KEY_ID={API_KEY} AWS_SECRET_ACCESS_KEY={API_SECRET}"
    where = f"--endpoint-url {url} --region {REGION}"
    print(f"trail {TRAIL_NAME} created through the control API at {url}; look at it with:")
    print(f"  {env} aws cloudtrail describe-trails {where}")
    print(f"  {env} aws cloudtrail get-trail-status --name {TRAIL_NAME} {where}")
    return 0


def traffic(settings: Settings, timeout: float, journal_dir: Path) -> int:
    import boto3

    from recorder.producer import Identity, KafkaEventSink, install

    sink = KafkaEventSink.from_settings(settings, journal_dir=journal_dir)
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
    settings = demo_settings(args.stack)
    journal = args.stack / "journal"
    if args.action == "setup":
        setup(settings, args.trails_file)
        return 0
    if args.action == "trail":
        return create_trail(settings, api_url(settings, args.api_url), args.timeout)
    if args.action == "insights":  # an Insights pair: recorder.insights.demo
        from recorder.insights.demo import run_demo

        url = api_url(settings, args.api_url)
        return run_demo(
            settings,
            url,
            account=ACCOUNT,
            region=REGION,
            trail=TRAIL_NAME,
            bucket=LOG_BUCKET,
            journal_dir=journal,
        )
    return traffic(settings, args.timeout, journal)
