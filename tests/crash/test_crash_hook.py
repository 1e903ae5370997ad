"""Issue 25 acceptance in CI: the crash harness through the hook path. A module of its
own, so its stack (broker, moto, the harness's buckets) is not the other harness run's."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtest.crash import run
from recorder.stack.local import LocalStack

pytestmark = [pytest.mark.integration, pytest.mark.crash]


def test_the_hook_path_loses_and_duplicates_nothing(stack: LocalStack, tmp_path: Path) -> None:
    """Issue 25 acceptance: the crash harness through the hook path. Real boto3 calls
    through the hook (identities from moto's STS, records signed, journaled while the
    broker restarts) while the router and writer are SIGKILLed and S3 fails: every
    delivery the engine expects of the hook's records, exactly once."""
    report = run(
        stack,
        tmp_path,
        events=800,
        kills=3,
        seed=25,
        s3_error_rate=0.1,
        rate=200.0,
        timeout=300,
        broker_restart=True,
        broken_destination=False,
        via="hook",
    )
    print(report)
    assert report.kills == 3
    assert report.broker_restarts == 1
    assert report.events == 800
    assert report.expected_deliveries >= 800  # the first account's trails log every call
    assert report.s3_faults.get("errors", 0) > 0, "the fault proxy injected no S3 errors"
    assert report.lost == 0
    assert report.duplicated == 0
    assert report.unexpected == 0
    assert report.delivered_records == report.expected_deliveries
