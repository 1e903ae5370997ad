"""Burst mode of the load test: one write API's rate raised for a period (Insights).

    python -m loadtest --burst s3.amazonaws.com:DeleteBucket:AT:SECONDS:RATE ...

On top of the usual mix, ``RATE`` calls a second of ``eventSource:eventName`` (a write
management call of the first account, in us-east-1) are sent from ``AT`` seconds into
the run for ``SECONDS`` seconds, and ``BASE`` calls a second of it all the time
(default 2, so the detector has a baseline). With a burst the run also starts
``recorder run insights`` with a short baseline (1-second intervals, a 10-interval
window), turns ``ApiCallRateInsight`` on for every trail, and reports the Insights
events delivered under ``CloudTrail-Insight/`` (they are not API events, so they are
not counted as unexpected).
"""

from __future__ import annotations

import argparse
import copy
from dataclasses import dataclass, field
from typing import Any

#: The Insights stage's settings in a burst run: seconds, not days.
INSIGHTS_ENV = {
    "RECORDER_INSIGHTS_BUCKET_SECONDS": "1",
    "RECORDER_INSIGHTS_BASELINE_WINDOW": "10",
    "RECORDER_INSIGHTS_THRESHOLD": "6",
    "RECORDER_INSIGHTS_LATENESS": "2",
    "RECORDER_INSIGHTS_GRACE": "4",
}


@dataclass
class Burst:
    event_source: str
    event_name: str
    at: float
    seconds: float
    rate: float
    base: float = 2.0
    sent: int = field(default=0, init=False)

    @classmethod
    def parse(cls, text: str) -> Burst:
        parts = text.split(":")
        try:
            source, name, at, seconds, rate, *base = parts
            burst = cls(source, name, float(at), float(seconds), float(rate))
            if base:
                burst.base = float(base[0])
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"--burst SOURCE:NAME:AT:SECONDS:RATE[:BASE], got {text!r}"
            ) from None
        if not (source and name) or min(burst.seconds, burst.rate, burst.at, burst.base) < 0:
            raise argparse.ArgumentTypeError(f"--burst: bad values in {text!r}")
        return burst

    def _due_total(self, elapsed: float) -> int:
        """Calls of the API due by ``elapsed`` seconds into the run."""
        in_burst = min(max(0.0, elapsed - self.at), self.seconds)
        return int(elapsed * self.base + in_burst * (self.rate - self.base))

    def events(self, mix: Any, elapsed: float, now: float) -> list[dict[str, Any]]:
        """The burst API's calls due now, shaped like the mix's other records."""
        out = []
        for _ in range(max(0, self._due_total(elapsed) - self.sent)):
            record = copy.deepcopy(mix.event(now))
            account = mix.accounts[0]
            record.update(
                eventSource=self.event_source,
                eventName=self.event_name,
                awsRegion="us-east-1",
                recipientAccountId=account,
                requestParameters={"burst": self.sent},
                readOnly=False,
                managementEvent=True,
                eventCategory="Management",
            )
            record["userIdentity"]["accountId"] = account
            record.pop("resources", None)
            out.append(record)
            self.sent += 1
        return out

    @staticmethod
    def enable_insights(specs: list[dict[str, Any]]) -> None:
        """Turn ``ApiCallRateInsight`` on for every trail of the run."""
        for spec in specs:
            spec["InsightSelectors"] = [{"InsightType": "ApiCallRateInsight"}]


def add_argument(ap: argparse.ArgumentParser) -> None:
    ap.add_argument(
        "--burst",
        type=Burst.parse,
        metavar="SOURCE:NAME:AT:SECONDS:RATE[:BASE]",
        help="raise one write API's rate for a period, with the Insights stage running",
    )
