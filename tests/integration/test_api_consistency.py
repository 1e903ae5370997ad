"""Linearizable trail writes across two API replicas (issue 12 item 6).

Both replicas serve one account at once: 100 concurrent CreateTrail calls for the
same name give exactly one success and TrailAlreadyExistsException for the rest;
a burst of creates never makes a sixth trail in a region; 100 concurrent
PutEventSelectors on one trail leave exactly one of the submitted sets, the same
through either replica.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from recorder.stack.local import LocalStack
from tests.integration.helpers import RecorderProcess, aws, cloudtrail_bucket, wait_for
from tests.integration.test_api import ALICE, cloudtrail, start_api

pytestmark = pytest.mark.integration

BUCKET = "consistency-logs"
N = 100


@pytest.fixture(scope="module")
def replicas(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[int]]:
    cloudtrail_bucket(aws(stack, "s3"), BUCKET)
    work = tmp_path_factory.mktemp("consistency")
    procs: list[RecorderProcess] = []
    ports: list[int] = []
    try:
        for i in range(2):
            proc, port = start_api(stack, work / f"api{i}")
            procs.append(proc)
            ports.append(port)
        yield ports
    finally:
        for proc in procs:
            proc.stop()


def outcome(call: Any, **params: Any) -> str:
    try:
        call(**params)
        return "OK"
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])


def test_concurrent_creates_of_one_name_make_exactly_one_trail(replicas: list[int]) -> None:
    clients = [cloudtrail(port) for port in replicas]
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(
            pool.map(
                lambda i: outcome(
                    clients[i % 2].create_trail, Name="contended", S3BucketName=BUCKET
                ),
                range(N),
            )
        )
    assert Counter(results) == {"OK": 1, "TrailAlreadyExistsException": N - 1}
    for ct in clients:
        names = [t["Name"] for t in ct.describe_trails()["trailList"]]
        assert names.count("contended") == 1


def test_concurrent_creates_never_make_a_sixth_trail_in_a_region(replicas: list[int]) -> None:
    clients = [cloudtrail(port, region="eu-west-2") for port in replicas]
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(
            pool.map(
                lambda i: outcome(
                    clients[i % 2].create_trail, Name=f"trail-{i}", S3BucketName=BUCKET
                ),
                range(20),
            )
        )
    assert Counter(results) == {"OK": 5, "MaximumNumberOfTrailsExceededException": 15}
    for ct in clients:
        assert len(ct.describe_trails()["trailList"]) == 5


def test_concurrent_put_event_selectors_keep_one_submitted_set(replicas: list[int]) -> None:
    clients = [cloudtrail(port, region="ap-south-1") for port in replicas]
    arn = clients[0].create_trail(Name="selected", S3BucketName=BUCKET)["TrailARN"]

    def selectors(i: int) -> list[dict[str, Any]]:
        return [
            {
                "ReadWriteType": "All",
                "IncludeManagementEvents": True,
                "DataResources": [
                    {"Type": "AWS::S3::Object", "Values": [f"arn:aws:s3:::bucket-{i}/"]}
                ],
                "ExcludeManagementEventSources": [],
            }
        ]

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(
            pool.map(
                lambda i: outcome(
                    clients[i % 2].put_event_selectors, TrailName=arn, EventSelectors=selectors(i)
                ),
                range(N),
            )
        )
    assert Counter(results) == {"OK": N}
    submitted = [json.dumps(selectors(i), sort_keys=True) for i in range(N)]

    def final() -> set[str]:
        return {
            json.dumps(ct.get_event_selectors(TrailName=arn)["EventSelectors"], sort_keys=True)
            for ct in clients
        }

    agreed = wait_for(lambda: len(s := final()) == 1 and s, timeout=10, what="replicas to agree")
    assert agreed.pop() in submitted


def test_write_leases_do_not_show_as_trails(replicas: list[int], tmp_path: Path) -> None:
    ct = cloudtrail(replicas[1])
    listed = ct.list_trails()["Trails"]
    assert all(t["TrailARN"].split(":")[4] == ALICE for t in listed)
    assert all(":trail/" in t["TrailARN"] for t in listed)
