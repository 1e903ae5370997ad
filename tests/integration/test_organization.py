"""Issue 13 item 7: organization trails end to end, on moto's AWS Organizations.

The management account (the local stack's default account) creates an organization
and a member account in moto; recorder reads the membership from Organizations
(DescribeOrganization, ListAccounts), and picks up a second member added while it
runs. The management account creates the organization trail through the ``aws`` CLI
(a member cannot, line 217); members see it but cannot change it (lines 392, 3683);
hooked boto3 clients of both members produce events that land under
``AWSLogs/<org-id>/<account>/`` (line 3689); ``aws cloudtrail validate-logs
--account-id`` validates a member's files with its digests (line 3923, 7848+).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

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

MANAGEMENT = "123456789012"  # moto's default account; the API's testing/testing
REGION = "us-east-1"
BUCKET = "org-trail-logs"
MEMBER_KEY, MEMBER_SECRET = "AKIDMEMBERONE", "member-one-secret"
AWS_CLI = str(Path(sys.executable).with_name("aws"))
INTERVAL = 6  # seconds per digest "hour"


@dataclass
class Org:
    stack: LocalStack
    proc: RecorderProcess
    port: int
    work: Path
    org_id: str
    member: str  # in the organization before recorder starts
    late_member: str  # joins while recorder runs

    def cli(
        self, *args: str, key: str = "testing", secret: str = "testing"
    ) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": key,
            "AWS_SECRET_ACCESS_KEY": secret,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": str(self.work / "no-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.work / "no-credentials"),
            # validate-logs reads digests from S3 and the organization id from
            # Organizations: both on the local stack
            "AWS_ENDPOINT_URL_S3": self.stack.aws_endpoint_url,
            "AWS_ENDPOINT_URL_ORGANIZATIONS": self.stack.aws_endpoint_url,
        }
        env.pop("AWS_PROFILE", None)
        return subprocess.run(
            [
                AWS_CLI,
                "cloudtrail",
                *args,
                "--endpoint-url",
                f"http://127.0.0.1:{self.port}",
                "--output",
                "json",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def member_cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.cli(*args, key=MEMBER_KEY, secret=MEMBER_SECRET)


def _organizations(stack: LocalStack) -> Any:
    return aws(stack, "organizations")


def _new_account(stack: LocalStack, name: str) -> str:
    status = _organizations(stack).create_account(AccountName=name, Email=f"{name}@example.com")[
        "CreateAccountStatus"
    ]
    return str(status["AccountId"])


@pytest.fixture(scope="module")
def org(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Org]:
    work = tmp_path_factory.mktemp("organization")
    orgs = _organizations(stack)
    org_id = orgs.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    member = _new_account(stack, "member-one")
    s3 = aws(stack, "s3")
    # the guide's organization-trail policy (line 3923), for any prefix
    cloudtrail_bucket(s3, BUCKET, f"arn:aws:s3:::{BUCKET}/AWSLogs/*")
    (work / "credentials.json").write_text(
        json.dumps(
            {
                "credentials": [
                    {
                        "AccessKeyId": "testing",
                        "SecretAccessKey": "testing",
                        "AccountId": MANAGEMENT,
                    },
                    {
                        "AccessKeyId": MEMBER_KEY,
                        "SecretAccessKey": MEMBER_SECRET,
                        "AccountId": member,
                    },
                ]
            }
        )
    )
    port = free_port()
    env = {
        "RECORDER_API_PORT": str(port),
        "RECORDER_API_CREDENTIALS_FILE": str(work / "credentials.json"),
        "RECORDER_CUT_INTERVAL": "1",
        "RECORDER_DIGEST_INTERVAL": str(INTERVAL),
        "RECORDER_ORGANIZATIONS_REFRESH": "1",
    }
    proc = RecorderProcess(stack, ["api", "router", "writer", "digester"], work, env=env).start()
    late_member = ""
    try:
        wait_for(
            lambda: proc.metric("recorder_organization_accounts") == 2,
            30,
            what="the organization's two accounts read from Organizations",
        )
        late_member = _new_account(stack, "member-two")  # joins while recorder runs
        wait_for(
            lambda: proc.metric("recorder_organization_accounts") == 3,
            30,
            what="the account that joined, on the next refresh",
        )
        yield Org(stack, proc, port, work, org_id, member, late_member)
    finally:
        proc.stop()
        for account in (member, late_member):  # leave moto as other tests expect it
            if account:
                orgs.remove_account_from_organization(AccountId=account)
        orgs.delete_organization()


def _ok(done: subprocess.CompletedProcess[str]) -> Any:
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else None


def _fails_with(done: subprocess.CompletedProcess[str], code: str) -> None:
    assert done.returncode != 0, done.stdout
    assert f"({code})" in done.stderr, done.stderr


def _hooked_s3(stack: LocalStack, sink: KafkaEventSink, account: str) -> Any:
    key = f"AKIA{account}"
    session = boto3.Session(region_name=REGION, aws_access_key_id=key, aws_secret_access_key="x")
    install(session, sink, identity=Identity(account_id=account, access_key_id=key, user_name="u"))
    return session.client("s3", endpoint_url=stack.aws_endpoint_url)


def test_organization_trail_end_to_end(org: Org, tmp_path: Path) -> None:
    # only the management account creates an organization trail (line 217)
    _fails_with(
        org.member_cli(
            "create-trail",
            "--name",
            "member-org-trail",
            "--s3-bucket-name",
            BUCKET,
            "--is-organization-trail",
        ),
        "NotOrganizationMasterAccountException",
    )
    trail = _ok(
        org.cli(
            "create-trail",
            "--name",
            "MyOrganizationTrail",
            "--s3-bucket-name",
            BUCKET,
            "--is-organization-trail",
            "--is-multi-region-trail",
            "--enable-log-file-validation",
        )
    )
    arn = trail["TrailARN"]
    assert trail["IsOrganizationTrail"] is True
    _ok(org.cli("start-logging", "--name", "MyOrganizationTrail"))
    start = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)

    # a member sees it (by ARN) but cannot change it (lines 392, 3683)
    seen = _ok(org.member_cli("describe-trails"))["trailList"]
    assert [(t["TrailARN"], t["IsOrganizationTrail"]) for t in seen] == [(arn, True)]
    assert _ok(org.member_cli("get-trail", "--name", arn))["Trail"]["TrailARN"] == arn
    assert _ok(org.member_cli("get-trail-status", "--name", arn))["IsLogging"] is True
    _fails_with(
        org.member_cli("update-trail", "--name", arn, "--no-include-global-service-events"),
        "TrailNotFoundException",
    )
    _fails_with(org.member_cli("stop-logging", "--name", arn), "TrailNotFoundException")
    _fails_with(org.member_cli("delete-trail", "--name", arn), "TrailNotFoundException")

    # events of both members land under the organization's prefix (line 3689)
    sink = KafkaEventSink.from_settings(org.stack.settings(), journal_dir=tmp_path / "journal")
    for account in (org.member, org.late_member):
        _hooked_s3(org.stack, sink, account).list_buckets()
    assert sink.flush(30)
    sink.close()

    def by_account() -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for key, records in read_log_files(org.stack, BUCKET).items():
            for r in records:
                if r["eventName"] == "ListBuckets":
                    found.setdefault(r["recipientAccountId"], []).append(key)
        return found

    files = wait_for(
        lambda: (f := by_account()) and org.member in f and org.late_member in f and f,
        60,
        what="both members' events in the organization trail's files",
    )
    for account in (org.member, org.late_member):
        for key in files[account]:
            assert re.fullmatch(
                rf"AWSLogs/{org.org_id}/{account}/CloudTrail/{REGION}/\d{{4}}/\d{{2}}/\d{{2}}/"
                rf"{account}_CloudTrail_{REGION}_\d{{8}}T\d{{4}}Z_[A-Za-z0-9]{{16}}\.json\.gz",
                key,
            ), key

    # validate-logs for the member account, from the member's own credentials
    s3 = aws(org.stack, "s3")
    digest_prefix = f"AWSLogs/{org.org_id}/{org.member}/CloudTrail-Digest/{REGION}/"

    def digested() -> bool:
        listing = s3.list_objects_v2(Bucket=BUCKET, Prefix=digest_prefix).get("Contents", [])
        listed: set[str] = set()
        for o in listing:
            raw = s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read()
            body = json.loads(gzip.decompress(raw))
            listed |= {f["s3Object"] for f in body.get("logFiles", [])}
        return set(files[org.member]) <= listed

    wait_for(digested, 8 * INTERVAL, what="a digest listing the member's log files")
    end = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    done = org.member_cli(
        "validate-logs",
        "--trail-arn",
        arn,
        "--account-id",
        org.member,
        "--start-time",
        start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "--end-time",
        end.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "--verbose",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "INVALID" not in done.stdout
    assert re.search(r"(\d+)/\1 digest files valid", done.stdout), done.stdout
    assert re.search(r"([1-9]\d*)/\1 log files valid", done.stdout), done.stdout

    # the management account still changes it
    _ok(org.cli("stop-logging", "--name", "MyOrganizationTrail"))
    _ok(org.cli("delete-trail", "--name", "MyOrganizationTrail"))
