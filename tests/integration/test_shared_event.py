"""Issue 13 item 6: one action that reaches two accounts (a PutObject by account A on
account B's bucket, guide line 4826) is delivered to both accounts' trails, and both
copies carry the same ``sharedEventID`` with their own ``eventID`` and
``recipientAccountId`` (line 11650). Hooked boto3 client, real broker, router and
writer processes, moto S3. Who owns the bucket is the operator's word (the owners
file), not the producer's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

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

CALLER = "111111111111"  # account A, who puts the object
OWNER = "222222222222"  # account B, who owns the bucket
LOGS = "shared-event-logs"
DATA = "b-owned-data"


def _trail(account: str, name: str, values: list[str]) -> dict[str, Any]:
    return {
        "Name": name,
        "TrailARN": f"arn:aws:cloudtrail:us-east-1:{account}:trail/{name}",
        "HomeRegion": "us-east-1",
        "S3BucketName": LOGS,
        "IsMultiRegionTrail": True,
        "IncludeGlobalServiceEvents": True,
        "EventSelectors": [
            {
                "ReadWriteType": "All",
                "IncludeManagementEvents": False,
                "DataResources": [{"Type": "AWS::S3::Object", "Values": values}],
            }
        ],
    }


@pytest.fixture(scope="module")
def recorder(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Any:
    work = tmp_path_factory.mktemp("shared")
    s3 = aws(stack, "s3")
    cloudtrail_bucket(s3, LOGS)
    s3.create_bucket(Bucket=DATA)
    trails = write_trails(
        work / "trails.json",
        [
            _trail(CALLER, "callers-trail", ["arn:aws:s3"]),  # A: all its S3 object calls
            _trail(OWNER, "owners-trail", [f"arn:aws:s3:::{DATA}/"]),  # B: its bucket
        ],
    )
    owners = work / "owners.json"
    owners.write_text(json.dumps({DATA: OWNER}))
    proc = RecorderProcess(
        stack,
        ["router", "writer"],
        work,
        env={
            "RECORDER_TRAILS_FILE": str(trails),
            "RECORDER_CUT_INTERVAL": "1",
            "RECORDER_BUCKET_OWNERS_FILE": str(owners),
        },
    ).start()
    yield proc
    proc.stop()


def test_both_copies_share_one_event_id(
    stack: LocalStack, recorder: RecorderProcess, tmp_path: Path
) -> None:
    sink = KafkaEventSink.from_settings(stack.settings(), journal_dir=tmp_path / "journal")
    seen: list[dict[str, Any]] = []
    session = boto3.Session(
        region_name="us-east-1", aws_access_key_id="AKIACALLER", aws_secret_access_key="x"
    )
    inst = install(
        session,
        sink,
        identity=Identity(account_id=CALLER, access_key_id="AKIACALLER", user_name="alice"),
    )
    inst.on_record = seen.append
    session.client("s3", endpoint_url=stack.aws_endpoint_url).put_object(
        Bucket=DATA, Key="from-a.txt", Body=b"hello"
    )
    assert sink.flush(30)
    sink.close()
    [put] = [r for r in seen if r["eventName"] == "PutObject"]

    def copies() -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for key, records in read_log_files(stack, LOGS).items():
            for r in records:
                if r["eventName"] == "PutObject" and r["eventTime"] == put["eventTime"]:
                    found[key.split("/")[1]] = r  # AWSLogs/<account>/...
        return found

    both = wait_for(lambda: len(c := copies()) == 2 and c, 60, what="both accounts' copies")
    a, b = both[CALLER], both[OWNER]
    assert a["sharedEventID"] == b["sharedEventID"]
    assert a["eventID"] == put["eventID"] != b["eventID"]
    assert (a["recipientAccountId"], b["recipientAccountId"]) == (CALLER, OWNER)
    assert a["userIdentity"]["accountId"] == b["userIdentity"]["accountId"] == CALLER
    assert a["requestParameters"] == b["requestParameters"]
    # the bucket's owner, as AWS names it, from the operator's owners file
    [bucket] = [r for r in b["resources"] if r["type"] == "AWS::S3::Bucket"]
    assert bucket["accountId"] == OWNER
