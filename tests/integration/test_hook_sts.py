"""STS unreachable while the application makes hooked calls (issue 25, item 3): the
scaled-down run of ``python -m loadtest.sts_outage`` (the 100,000-call, 10-minute
figures are in the README). The application is a process of its own with the real
hook, ``CallerIdentityResolver`` on moto's STS behind a closed gate, and real calls
to moto; a router and a writer deliver to a trail of the assumed role's account."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtest import sts_outage
from recorder.stack.local import LocalStack

pytestmark = pytest.mark.integration


def test_records_wait_on_disk_while_sts_is_away_and_arrive_once_when_it_is_back(
    stack: LocalStack, tmp_path: Path
) -> None:
    report = sts_outage.run(stack, tmp_path, calls=1000, outage=4.0, buffer=200, timeout=120)
    # while STS was away: nothing sent, memory held to the bound, the rest on disk
    assert report.sent_before_sts_returned == 0
    assert report.waiting_in_memory == 200
    assert report.waiting_in_journal == 800
    # once it was back: every call's record in the trail once, with the identity STS gave
    assert (report.delivered, report.missing, report.duplicated) == (1000, 0, 0)
    assert report.wrong_identity == 0
