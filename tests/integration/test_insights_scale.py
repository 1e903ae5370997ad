"""Issue 27 acceptance, scaled for CI: the Insights state of many tenants survives a
restart, and only accounts with Insights on have any.

``loadtest.insights_scale`` with 2,000 series over 100 accounts, 10 of them with
Insights on (the full size, 100,000 series over 1,000 accounts with 100 on, is its
default: ``python -m loadtest.insights_scale``). The real ``recorder run insights``
counts the calls, writes one record per series on ``insights-state``, is killed and
started again, restores every series and counts on.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtest.insights_scale import run
from loadtest.traffic import account_ids
from recorder.stack.local import LocalStack

pytestmark = pytest.mark.integration


def test_series_of_insights_accounts_only_and_all_restored_after_a_restart(
    stack: LocalStack, tmp_path: Path
) -> None:
    out = run(stack, tmp_path, accounts=100, insights_on=10, series=2_000)
    assert out.offered_series == 2_000
    # 10 accounts x 20 APIs: nothing of the 90 accounts without Insights is kept
    assert out.kept_series == 200
    assert out.kept_accounts == tuple(account_ids(10))
    assert out.largest_record_bytes < 1_000  # one series a record, whatever their number
    assert out.restored_series == 200
    assert out.series_after_restart == 200
    assert out.insights_events == 0 and out.late_calls == 0
