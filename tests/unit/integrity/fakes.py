"""In-memory S3 and CloudTrail stand-ins, shared by our validator and the real CLI's.

The same objects feed :func:`recorder.integrity.validate_logs` and awscli's own
``CloudTrailValidateLogs`` command, so a test can demand that both print the
same thing about the same bucket.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import io
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from awscli.customizations.cloudtrail.validation import CloudTrailValidateLogs
from botocore.exceptions import ClientError

from recorder.integrity import (
    ChainState,
    DigestArtifact,
    DigestWindow,
    KeyRing,
    LogFileManifest,
    PublicKey,
    StoredObject,
    ValidationRequest,
    ValidationResult,
    next_digest,
    validate_logs,
)
from recorder.trails.destination import Destination

TRAIL = "arn:aws:cloudtrail:us-east-2:111122223333:trail/my-trail"
ACCOUNT = "111122223333"
REGION = "us-east-2"
BUCKET = "trail-bucket"
T0 = dt.datetime(2024, 5, 1, 10, 0, 0, tzinfo=dt.UTC)


class MemoryS3:
    """Buckets as a dict; ListObjects v1 semantics (prefix, marker, key order)."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], StoredObject] = {}

    def put(
        self, bucket: str, key: str, body: bytes, metadata: dict[str, str] | None = None
    ) -> None:
        self.objects[(bucket, key)] = StoredObject(body, dict(metadata or {}))

    def list_keys(self, bucket: str, prefix: str, marker: str) -> Iterator[str]:
        for b, k in sorted(self.objects):
            if b == bucket and k.startswith(prefix) and k > marker:
                yield k

    def get(self, bucket: str, key: str) -> StoredObject | None:
        return self.objects.get((bucket, key))

    def fetch_log(self, bucket: str, key: str) -> bytes | None:
        found = self.objects.get((bucket, key))
        return None if found is None else found.body


@dataclass
class Chain:
    """A trail's log files and signed digests, written to a MemoryS3."""

    ring: KeyRing
    chain: Destination = field(default_factory=lambda: Destination(TRAIL, ACCOUNT, REGION))
    bucket: str = BUCKET
    prefix: str | None = None
    s3: MemoryS3 = field(default_factory=MemoryS3)
    state: ChainState | None = None
    digests: list[DigestArtifact] = field(default_factory=list)
    logs: list[LogFileManifest] = field(default_factory=list)

    def log_file(self, delivered: dt.datetime, n: int) -> LogFileManifest:
        """Write one log file of ``n`` records delivered at ``delivered``; return its manifest."""
        times = [delivered - dt.timedelta(minutes=5 - i) for i in range(n)]
        records = [
            {"eventTime": f"{t:%Y-%m-%dT%H:%M:%SZ}", "eventName": "PutObject", "seq": i}
            for i, t in enumerate(times)
        ]
        body = json.dumps({"Records": records}, separators=(",", ":")).encode()
        folder = "AWSLogs/" + (f"{self.chain.org_id}/" if self.chain.org_id else "")
        acct, region = self.chain.account_id, self.chain.region
        key = (
            f"{self.prefix + '/' if self.prefix else ''}{folder}{acct}/CloudTrail/{region}/"
            f"{delivered:%Y/%m/%d}/{acct}_CloudTrail_{region}_{delivered:%Y%m%dT%H%M}Z_"
            f"{hashlib.sha256(key_seed(delivered)).hexdigest()[:16]}.json.gz"
        )
        self.s3.put(self.bucket, key, gzip.compress(body, mtime=0))
        manifest = LogFileManifest(
            chain=self.chain,
            bucket=self.bucket,
            key=key,
            sha256=hashlib.sha256(body).hexdigest(),
            oldest_event_time=records[0]["eventTime"],
            newest_event_time=records[-1]["eventTime"],
            delivery_time=f"{delivered:%Y-%m-%dT%H:%M:%SZ}",
            record_count=n,
        )
        self.logs.append(manifest)
        return manifest

    def digest(
        self, window: DigestWindow, files: list[LogFileManifest], final: bool = False
    ) -> DigestArtifact:
        state = self.state or ChainState(self.chain)
        artifact, self.state = next_digest(
            state, window, files, self.ring, bucket=self.bucket, prefix=self.prefix, final=final
        )
        self.s3.put(artifact.bucket, artifact.key, artifact.gz, artifact.metadata)
        self.digests.append(artifact)
        return artifact


def key_seed(t: dt.datetime) -> bytes:
    return t.isoformat().encode()


def hourly_chain(ring: KeyRing, **kwargs: Any) -> Chain:
    """Four hourly digests from 10:00 to 14:00: 2 logs, 1 log, none (empty), 2 logs."""
    c = Chain(ring, **kwargs)
    w = DigestWindow.starting(T0)
    for logs_at in (
        [T0 + dt.timedelta(minutes=5), T0 + dt.timedelta(minutes=35)],
        [T0 + dt.timedelta(hours=1, minutes=10)],
        [],
        [T0 + dt.timedelta(hours=3, minutes=20), T0 + dt.timedelta(hours=3, minutes=25)],
    ):
        c.digest(w, [c.log_file(t, 3) for t in logs_at])
        w = w.following()
    return c


def request(
    c: Chain, start: dt.datetime = T0, end: dt.datetime | None = None, **kwargs: Any
) -> ValidationRequest:
    return ValidationRequest(
        trail_arn=c.chain.trail_arn,
        start_time=start,
        end_time=end or T0 + dt.timedelta(hours=4),
        bucket=c.bucket,
        prefix=c.prefix,
        account_id=kwargs.pop("account_id", None),
        organization_id=c.chain.org_id,
        verbose=kwargs.pop("verbose", True),
        **kwargs,
    )


def ours(c: Chain, req: ValidationRequest) -> ValidationResult:
    return validate_logs(req, c.s3, lambda s, e: c.ring.public_keys(s, e), c.s3.fetch_log)


# -- the real AWS CLI command, over the same objects ---------------------------------


class _Paginator:
    def __init__(self, s3: MemoryS3) -> None:
        self._s3 = s3

    def paginate(self, Bucket: str, Marker: str, Prefix: str) -> Any:
        keys = list(self._s3.list_keys(Bucket, Prefix, Marker))

        class _Pages:
            def search(self, expression: str) -> Iterator[str]:
                assert expression == "Contents[*].Key"
                return iter(keys)

        return _Pages()


class _S3Client:
    def __init__(self, s3: MemoryS3) -> None:
        self._s3 = s3

    def get_paginator(self, name: str) -> _Paginator:
        assert name == "list_objects"
        return _Paginator(self._s3)

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        found = self._s3.get(Bucket, Key)
        if found is None:
            raise ClientError(
                {"Error": {"Code": "NoSuchKey", "Message": "The specified key does not exist."}},
                "GetObject",
            )
        return {"Body": io.BytesIO(found.body), "Metadata": dict(found.metadata)}


class _S3Provider:
    def __init__(self, s3: MemoryS3) -> None:
        self._client = _S3Client(s3)

    def get_client(self, bucket: str) -> _S3Client:
        return self._client


class CloudTrailStub:
    def __init__(self, c: Chain) -> None:
        self._c = c

    def list_public_keys(self, StartTime: dt.datetime, EndTime: dt.datetime) -> dict[str, Any]:
        # As the CLI sees a ListPublicKeys response: blobs stay base64 text.
        return {"PublicKeyList": [k.to_api() for k in self._c.ring.public_keys(StartTime, EndTime)]}

    def describe_trails(self) -> dict[str, Any]:
        return {
            "trailList": [
                {
                    "TrailARN": self._c.chain.trail_arn,
                    "S3BucketName": self._c.bucket,
                    **({"S3KeyPrefix": self._c.prefix} if self._c.prefix else {}),
                    "IsOrganizationTrail": bool(self._c.chain.org_id),
                }
            ]
        }


class _Organizations:
    def __init__(self, org_id: str | None) -> None:
        self._org_id = org_id

    def describe_organization(self) -> dict[str, Any]:
        return {"Organization": {"Id": self._org_id}}


def aws_cli(
    c: Chain, req: ValidationRequest, capsys: pytest.CaptureFixture[str]
) -> ValidationResult:
    """Run awscli's validate-logs command object on the chain's bucket; capture what it prints."""
    capsys.readouterr()
    cmd = CloudTrailValidateLogs(session=None)
    cmd.trail_arn = req.trail_arn
    cmd.is_verbose = req.verbose
    # Org trails: let the CLI find the bucket, prefix and org id the way it does.
    cmd.s3_bucket = None if c.chain.org_id else req.bucket
    cmd.s3_prefix = None if c.chain.org_id else req.prefix
    cmd.account_id = req.account_id
    cmd.start_time = req.start_time
    cmd.end_time = req.end_time
    cmd._source_region = req.source_region
    cmd.s3_client_provider = _S3Provider(c.s3)
    cmd.cloudtrail_client = CloudTrailStub(c)
    cmd.organization_client = _Organizations(c.chain.org_id)
    try:
        cmd._call()
        invalid = cmd._invalid_digests + cmd._invalid_backfill_digests
        code = 1 if invalid or cmd._invalid_logs else 0
    except RuntimeError as exc:  # what the CLI driver does with an escaping error
        sys.stderr.write(f"\n{exc}\n")
        code = 255
    out = capsys.readouterr()
    return ValidationResult(
        exit_code=code,
        stdout=out.out,
        stderr=out.err,
        valid_digests=cmd._valid_digests + cmd._valid_backfill_digests,
        invalid_digests=cmd._invalid_digests + cmd._invalid_backfill_digests,
        valid_logs=cmd._valid_logs,
        invalid_logs=cmd._invalid_logs,
    )


def public_key_b64(key: PublicKey) -> str:
    return base64.b64encode(key.der).decode()
