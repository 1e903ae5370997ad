"""The writer's grant checks: when a policy is read again, what a read that fails
means, and what a missing grant turns into (issue 12, item 2)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from recorder.delivery.grantbook import (
    ERROR_RECHECK,
    GrantBook,
    GrantKey,
    Outcome,
    Resource,
    missing_grant,
    status_text,
)
from recorder.delivery.grants import GrantChecker, owner_account
from recorder.delivery.notices import DeliveryFailed
from recorder.delivery.target import DeliveryTarget
from recorder.obs.metrics import Metrics
from recorder.policies import Principal, guide
from recorder.settings import Settings
from recorder.trails.destination import Destination

ACCOUNT = "111122223333"
TRAIL = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/t"
KEY = GrantKey(Resource.BUCKET, "logs", ACCOUNT, TRAIL)
MISSING = f"s3:PutObject on arn:aws:s3:::logs/AWSLogs/{ACCOUNT}/*"
ROLE = "arn:aws:iam::444455556666:role/recorder-writer"


# -- the book: plain data --------------------------------------------------------------


def test_first_delivery_reads_the_policy_then_the_answer_holds_for_the_interval() -> None:
    book = GrantBook(interval=300)
    assert book.due(KEY, 1000.0)
    assert book.problem(KEY) is None  # never read: nothing known
    assert book.record(KEY, None, 1000.0) is Outcome.GRANTED
    assert not book.due(KEY, 1000.0 + 299)
    assert book.due(KEY, 1000.0 + 300)
    assert book.record(KEY, MISSING, 1300.0) is Outcome.DENIED
    assert book.problem(KEY) == MISSING
    assert not book.due(KEY, 1301.0)


def test_interval_zero_reads_once_and_never_again_on_its_own() -> None:
    book = GrantBook(interval=0)
    assert book.due(KEY, 0.0)
    book.record(KEY, None, 0.0)
    assert not book.due(KEY, 10 * 86400.0)


def test_a_retry_never_keeps_a_destination_parked_on_a_cached_denial() -> None:
    book = GrantBook(interval=300)
    book.record(KEY, MISSING, 1000.0)
    assert not book.due(KEY, 1001.0)
    assert book.due(KEY, 1001.0, retry=True)
    book.record(KEY, None, 1001.0)
    # granted again: the lane's next entries need no read of their own
    assert not book.due(KEY, 1002.0, retry=True)


def test_an_unreadable_policy_is_not_a_denial_and_keeps_the_last_answer() -> None:
    book = GrantBook(interval=300)
    assert book.failed(KEY, 1000.0) is Outcome.ERROR
    assert book.problem(KEY) is None  # unknown: deliver
    book.record(KEY, None, 2000.0)
    book.failed(KEY, 2300.0)
    assert book.problem(KEY) is None
    book.record(KEY, MISSING, 2400.0)
    book.failed(KEY, 2700.0)
    assert book.problem(KEY) == MISSING  # the last known answer stands
    # tried again after min(interval, ERROR_RECHECK), not on every batch
    assert not book.due(KEY, 2700.0 + ERROR_RECHECK - 1)
    assert book.due(KEY, 2700.0 + ERROR_RECHECK)
    zero = GrantBook(interval=0)
    zero.failed(KEY, 0.0)
    assert not zero.due(KEY, ERROR_RECHECK - 1)
    assert zero.due(KEY, ERROR_RECHECK)


def test_answers_no_delivery_asks_for_are_forgotten() -> None:
    book = GrantBook(interval=300)
    other = GrantKey(Resource.TOPIC, "arn:aws:sns:us-east-1:1:t", ACCOUNT, TRAIL)
    for k in (KEY, other):
        book.due(k, 0.0)
        book.record(k, None, 0.0)
    book.due(KEY, 86000.0)
    assert book.forget_unused(90000.0) == 1
    assert len(book) == 1 and book.problem(KEY) is None


def test_status_text_is_the_aws_error_then_the_missing_grant() -> None:
    bucket = missing_grant(Resource.BUCKET, "cloudtrail.amazonaws.com", MISSING)
    assert status_text(Resource.BUCKET, bucket) == (
        f"AccessDenied: the bucket policy does not grant cloudtrail.amazonaws.com {MISSING}"
    )
    key = missing_grant(Resource.KEY, ROLE, "kms:DescribeKey on k")
    assert status_text(Resource.KEY, key) == (
        f"AccessDenied: the key policy does not grant {ROLE} kms:DescribeKey on k"
    )
    topic = missing_grant(Resource.TOPIC, ROLE, "SNS:Publish on t")
    assert status_text(Resource.TOPIC, topic).startswith("AuthorizationError: the topic policy")


def test_owner_account_is_the_trails_account() -> None:
    assert owner_account(TRAIL) == ACCOUNT


# -- the checker against an S3 client that answers as S3 does ----------------------------


class S3:
    """Answers GetBucketPolicy from a dict; ``fail`` makes the next reads fail (a 503 is
    what botocore raises once its own retries are spent; a 403 a refused read)."""

    def __init__(self, policies: dict[str, str | None]) -> None:
        self.policies = policies
        self.reads = 0
        self.fail: Exception | None = None

    async def get_bucket_policy(self, Bucket: str) -> dict[str, Any]:
        self.reads += 1
        await asyncio.sleep(0)
        if self.fail is not None:
            raise self.fail
        policy = self.policies.get(Bucket)
        if policy is None:
            raise ClientError(
                {"Error": {"Code": "NoSuchBucketPolicy"}, "ResponseMetadata": {}},
                "GetBucketPolicy",
            )
        return {"Policy": policy}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def checker(
    s3: S3, clock: Clock, interval: float = 300, principal: str = "cloudtrail.amazonaws.com"
) -> tuple[GrantChecker, Metrics]:
    metrics = Metrics()
    settings = Settings(
        grant_recheck_interval=interval,
        delivery_principal=principal,
        aws_endpoint_url="http://127.0.0.1:5000",  # a service principal only on an emulator
    )
    return GrantChecker(settings, metrics, s3, None, clock), metrics  # type: ignore[arg-type]


def denied_status(grant: str, principal: str = "cloudtrail.amazonaws.com") -> str:
    return status_text(Resource.BUCKET, missing_grant(Resource.BUCKET, principal, grant))


def checks(metrics: Metrics, outcome: str) -> float:
    return (
        metrics.registry.get_sample_value(
            "recorder_writer_grant_checks_total", {"resource": "bucket", "outcome": outcome}
        )
        or 0.0
    )


DEST = Destination(TRAIL, ACCOUNT, "us-east-1")
TARGET = DeliveryTarget(bucket="logs")


async def test_checker_reads_once_per_interval_and_parks_a_revoked_grant_as_access_denied() -> None:
    s3, clock = S3({"logs": guide.bucket_policy("logs")}), Clock()
    grants, metrics = checker(s3, clock)
    await grants.check_delivery(DEST, TARGET)
    await grants.check_delivery(DEST, TARGET)
    assert s3.reads == 1 and checks(metrics, "granted") == 1
    s3.policies["logs"] = guide.bucket_policy("logs", "arn:aws:s3:::logs/AWSLogs/999999999999/*")
    clock.now += 299
    await grants.check_delivery(DEST, TARGET)  # within the interval: the cached grant
    clock.now += 1
    with pytest.raises(DeliveryFailed) as denied:
        await grants.check_delivery(DEST, TARGET)
    assert denied.value.failure.code == "AccessDenied" and denied.value.failure.permanent
    assert denied.value.status == denied_status(MISSING)
    assert checks(metrics, "denied") == 1 and s3.reads == 2
    s3.policies["logs"] = None  # no policy at all grants nothing either
    with pytest.raises(DeliveryFailed):
        await grants.check_delivery(DEST, TARGET, retry=True)
    assert s3.reads == 3  # a retry re-read the policy
    s3.policies["logs"] = guide.bucket_policy("logs")
    await grants.check_delivery(DEST, TARGET, retry=True)
    assert s3.reads == 4 and checks(metrics, "granted") == 2


async def test_checker_does_not_park_on_a_policy_it_cannot_read() -> None:
    s3, clock = S3({"logs": guide.bucket_policy("logs")}), Clock()
    grants, metrics = checker(s3, clock)
    s3.fail = ClientError(
        {"Error": {"Code": "ServiceUnavailable"}, "ResponseMetadata": {"HTTPStatusCode": 503}},
        "GetBucketPolicy",
    )
    await grants.check_delivery(DEST, TARGET)  # unknown: proceed
    assert checks(metrics, "error") == 1
    s3.fail = None
    clock.now += ERROR_RECHECK
    s3.policies["logs"] = None
    with pytest.raises(DeliveryFailed):
        await grants.check_delivery(DEST, TARGET)
    s3.fail = EndpointConnectionError(endpoint_url="http://s3")
    clock.now += 300
    with pytest.raises(DeliveryFailed):  # the last known denial stands, read or not
        await grants.check_delivery(DEST, TARGET)
    assert checks(metrics, "error") == 2


async def test_concurrent_deliveries_of_one_grant_share_one_read() -> None:
    s3, clock = S3({"logs": guide.bucket_policy("logs")}), Clock()
    grants, _ = checker(s3, clock)
    dests = [Destination(TRAIL, ACCOUNT, r) for r in ("us-east-1", "eu-west-1", "ap-south-1")]
    await asyncio.gather(*(grants.check_delivery(d, TARGET) for d in dests))
    assert s3.reads == 1


def refused(code: str = "AccessDenied") -> ClientError:
    return ClientError(
        {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": 403}}, "GetBucketPolicy"
    )


async def test_a_refused_policy_read_parks_and_says_what_could_not_be_read_by_whom() -> None:
    s3, clock = S3({"logs": guide.bucket_policy("logs")}), Clock()
    grants, metrics = checker(s3, clock, principal=ROLE)
    s3.fail = refused()
    with pytest.raises(DeliveryFailed) as denied:
        await grants.check_delivery(DEST, TARGET)
    assert denied.value.failure.code == "AccessDenied" and denied.value.failure.permanent
    assert denied.value.status == (
        f"AccessDenied: {ROLE} may not read the bucket policy of logs (s3:GetBucketPolicy "
        "refused: AccessDenied); grant it s3:GetBucketPolicy so recorder can check its grant"
    )
    assert checks(metrics, "refused") == 1 and checks(metrics, "error") == 0
    s3.fail = None  # readable again, and it grants only the CloudTrail service: not the role
    with pytest.raises(DeliveryFailed) as denied:
        await grants.check_delivery(DEST, TARGET, retry=True)
    assert denied.value.status == denied_status("s3:GetBucketAcl on arn:aws:s3:::logs", ROLE)
    s3.policies["logs"] = guide.bucket_policy("logs", principal=Principal.parse(ROLE))
    await grants.check_delivery(DEST, TARGET, retry=True)
    assert checks(metrics, "granted") == 1 and checks(metrics, "denied") == 1


def test_a_refusal_by_aws_makes_a_cached_grant_due_again() -> None:
    book = GrantBook(interval=300)
    book.record(KEY, None, 1000.0)
    assert not book.due(KEY, 1001.0)
    book.distrust(KEY)  # S3 refused the put the cached grant allowed
    assert book.due(KEY, 1001.0)
    book.record(KEY, MISSING, 1001.0)
    book.distrust(KEY)  # a known denial stays known
    assert book.problem(KEY) == MISSING
