"""An application process whose AWS calls reach recorder through the real hook.

    python -m loadtest.hooked --calls N --credentials creds.json --records out.jsonl ...

A boto3 session with recorder's hook installed (``recorder.producer.install``), its
identity looked up by ``CallerIdentityResolver`` on the local stack's STS (moto, or a
gate in front of it), its records sent by ``KafkaEventSink.from_settings`` (signed with
the stack's producer key, journaled while the broker is away). It makes ``--calls``
real calls to moto, a mix of management, data and global-service calls in two
Regions, evenly over ``--seconds`` (0: as fast as they go), flushes the sink, and
writes every record the hook made, as sent, one JSON line each: the harness routes
them with the pure engine to know what must be delivered. The crash harness
(``loadtest.crash --via hook``) runs it while it kills the recorder's processes and
restarts the broker.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import boto3


def calls(session: Any, s3_url: str, bucket: str) -> list[Any]:
    """One of each kind of call, taken in turn: S3 management (ListBuckets) and data
    (PutObject, GetObject of a key that is not there: a failed call is recorded too),
    IAM (a global service: us-east-1), EC2 in another Region."""
    s3 = session.client("s3", endpoint_url=s3_url)
    iam = session.client("iam", endpoint_url=s3_url)
    ec2 = session.client("ec2", endpoint_url=s3_url, region_name="eu-west-1")

    def get_missing(i: int) -> None:
        with contextlib.suppress(s3.exceptions.ClientError):
            s3.get_object(Bucket=bucket, Key=f"missing/{i}")

    return [
        lambda i: s3.list_buckets(),
        lambda i: s3.put_object(Bucket=bucket, Key=f"hooked/{i}", Body=b"x"),
        get_missing,
        lambda i: iam.list_users(),
        lambda i: ec2.describe_regions(),
    ]


def main() -> int:
    from recorder.producer import KafkaEventSink, install
    from recorder.producer.identity import CallerIdentityResolver
    from recorder.settings import Settings

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, required=True)
    ap.add_argument("--seconds", type=float, default=0.0)
    ap.add_argument("--credentials", required=True, help="AssumeRole credentials (JSON)")
    ap.add_argument("--sts-url", required=True)
    ap.add_argument("--s3-url", required=True)
    ap.add_argument("--bucket", required=True)
    ap.add_argument("--journal", required=True)
    ap.add_argument("--records", required=True)
    ap.add_argument("--flush-timeout", type=float, default=300.0)
    args = ap.parse_args()
    creds = json.loads(Path(args.credentials).read_text())
    sink = KafkaEventSink.from_settings(Settings.from_env(), journal_dir=Path(args.journal))
    session = boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name="us-east-1",
    )
    records: list[dict[str, Any]] = []
    resolver = CallerIdentityResolver(endpoint_url=args.sts_url, retry_max=2.0)
    install(session, sink, resolver=resolver).on_record = records.append
    kinds = calls(session, args.s3_url, args.bucket)
    started = time.monotonic()
    for i in range(args.calls):
        due = started + args.seconds * i / args.calls
        if (pause := due - time.monotonic()) > 0:
            time.sleep(pause)
        kinds[i % len(kinds)](i)
        if (i + 1) % max(1, args.calls // 10) == 0:
            print(f"progress {i + 1}", flush=True)
    flushed = sink.flush(args.flush_timeout)
    sink.close(timeout=10)
    Path(args.records).write_text("".join(json.dumps(r) + "\n" for r in records))
    print(f"done {len(records)} records, flushed={flushed}", flush=True)
    return 0 if flushed else 1


if __name__ == "__main__":
    sys.exit(main())
