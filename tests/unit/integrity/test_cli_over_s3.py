"""The real CLI command over in-process moto S3: digests stored with ``put_object_kwargs``.

Beyond the fakes, this checks what S3 does to the objects on the way: user
metadata names (``x-amz-meta-signature``), gzip bodies with Content-Encoding,
and the CLI's own S3 client, listing and paging.
"""

from __future__ import annotations

import pytest

moto = pytest.importorskip("moto")

import boto3  # noqa: E402
import botocore.session  # noqa: E402
from awscli.customizations.cloudtrail.validation import (  # noqa: E402
    CloudTrailValidateLogs,
    S3ClientProvider,
)

from recorder.integrity import KeyRing  # noqa: E402
from tests.unit.integrity import fakes  # noqa: E402


def test_cli_validates_digests_written_with_put_object_kwargs(
    ring: KeyRing, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    c = fakes.hourly_chain(ring)
    req = fakes.request(c, verbose=False)
    with moto.mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=fakes.BUCKET)
        for log in c.logs:
            body = c.s3.objects[(log.bucket, log.key)].body
            s3.put_object(Bucket=log.bucket, Key=log.key, Body=body, ContentEncoding="gzip")
        for d in c.digests:
            s3.put_object(**d.put_object_kwargs())
        head = s3.head_object(Bucket=fakes.BUCKET, Key=c.digests[0].key)
        assert head["Metadata"] == c.digests[0].metadata
        assert head["ServerSideEncryption"] == "AES256"  # digests are always SSE-S3
        s3.put_object(Bucket=fakes.BUCKET, Key=c.logs[1].key, Body=b"\x1f\x8b tampered")

        session = botocore.session.get_session()
        cmd = CloudTrailValidateLogs(session)
        cmd.trail_arn, cmd.is_verbose = req.trail_arn, False
        cmd.s3_bucket, cmd.s3_prefix, cmd.account_id = fakes.BUCKET, None, None
        cmd.start_time, cmd.end_time, cmd._source_region = req.start_time, req.end_time, None
        cmd.s3_client_provider = S3ClientProvider(session, "us-east-1")
        cmd.cloudtrail_client, cmd.organization_client = fakes.CloudTrailStub(c), None
        capsys.readouterr()
        cmd._call()
    out = capsys.readouterr()
    assert out.err == (
        f"Log file\ts3://{fakes.BUCKET}/{c.logs[1].key}\tINVALID: invalid format\n\n"
    )
    assert out.out.endswith(
        "\n4/4 digest files valid\n4/5 log files valid, 1/5 log files INVALID\n"
    )
