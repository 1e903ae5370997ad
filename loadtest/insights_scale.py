"""Insights state of many tenants survives a restart (issue 27 item 6 acceptance).

    python -m loadtest.insights_scale [--accounts 1000] [--insights-on 100]
                                      [--series 100000] [--broker noida|tansu]

Offers ``--series`` call-rate series spread evenly over ``--accounts`` accounts (one
write management call per series, the same APIs in every account), of which only
the first ``--insights-on`` accounts have a trail with Insights on. Runs the real
``recorder run insights`` against a local stack, then checks, on ``insights-state``
itself:

* the series kept are exactly those of the accounts with Insights on (the others
  cost nothing), one record each, none larger than a series (no record grows with the
  number of series: the old one-message state reached Kafka's 1 MB default near
  33,000 series);
* after a crash (SIGKILL) and a new process the stage restores every one of them
  and counts on; no Insights event is decided by either run (one interval of calls is
  no anomaly), no call is late.

Prints the figures (offered and kept series, state records and their largest size,
the restart's restore time). The integration test runs it scaled down
(``tests/integration/test_insights_scale.py``); the full size is the default here.
Intervals are scaled to 2 s (lateness 10 s, the test's 3 s) so a run takes seconds,
not minutes.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from loadtest.generator import PlainSink
from loadtest.procs import RecorderProcess
from loadtest.topicview import live_records
from loadtest.traffic import account_ids
from recorder.events import encode
from recorder.stack.local import LocalStack
from recorder.stack.processes import free_port

REGION = "us-east-1"
SOURCES = ("ec2.amazonaws.com", "iam.amazonaws.com", "sns.amazonaws.com", "ssm.amazonaws.com")
ENV = {
    "RECORDER_INSIGHTS_BUCKET_SECONDS": "2",
    "RECORDER_INSIGHTS_BASELINE_WINDOW": "8",
    "RECORDER_INSIGHTS_THRESHOLD": "8",
    "RECORDER_INSIGHTS_GRACE": "2",
}


@dataclass
class Outcome:
    accounts: int
    insights_on: int
    offered_series: int
    kept_series: int  # live series records on insights-state after the first run
    kept_accounts: tuple[str, ...]  # the accounts those records belong to
    largest_record_bytes: int
    restored_series: int  # what the restarted stage read back
    restore_seconds: float  # the second process: start until every partition restored
    series_after_restart: int  # the stage's gauge once it counted on
    insights_events: float  # both runs
    late_calls: float


def _trails(ids: list[str], insights_on: int) -> list[dict[str, Any]]:
    out = []
    for n, account in enumerate(ids):
        trail: dict[str, Any] = {
            "Name": "main",
            "TrailARN": f"arn:aws:cloudtrail:{REGION}:{account}:trail/main",
            "HomeRegion": REGION,
            "S3BucketName": "scale-logs",
            "IsMultiRegionTrail": True,
        }
        if n < insights_on:
            trail["InsightSelectors"] = [{"InsightType": "ApiCallRateInsight"}]
        out.append(trail)
    return out


def _call(account: str, api: int, n: int) -> dict[str, Any]:
    """A write management call of API number ``api`` (as a producer's hook writes it)."""
    return {
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAJ45Q7YFFAREXAMPLE",
            "arn": f"arn:aws:iam::{account}:user/scale",
            "accountId": account,
            "accessKeyId": "AKIAIOSFODNN7EXAMPLE",
            "userName": "scale",
        },
        "eventTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "eventSource": SOURCES[api % len(SOURCES)],
        "eventName": f"CreateThing{api}",
        "awsRegion": REGION,
        "sourceIPAddress": "192.0.2.7",
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": {"name": f"thing-{api}"},
        "responseElements": None,
        "requestID": f"req-{n}",
        "eventID": f"00000000-0000-4000-8000-{n:012d}",
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
    }


def _send_calls(stack: LocalStack, ids: list[str], apis: int) -> int:
    sink = PlainSink(stack.settings())
    n = 0
    for account in ids:
        for api in range(apis):
            sink.emit(account.encode(), encode(_call(account, api, n)))
            n += 1
            while sink.pending() > 1000:  # stamped when sent, as a hook's calls are
                time.sleep(0.01)
    sink.close(timeout=600)
    return n


def _series_records(state: dict[bytes, bytes]) -> dict[bytes, bytes]:
    return {k: v for k, v in state.items() if b"|s|" in k}


def _restored(log: str) -> int:
    """The series the stage's partitions read back (its ``insights_partition_assigned``)."""
    total = 0
    for line in log.splitlines():
        if '"insights_partition_assigned"' in line:
            total += int(json.loads(line)["series"])
    return total


def _wait(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {seconds:.0f} s for {what}")
        time.sleep(0.5)


def run(
    stack: LocalStack,
    workdir: Path,
    accounts: int,
    insights_on: int,
    series: int,
    progress: Callable[[str], None] = lambda _: None,
    lateness: float = 3.0,
) -> Outcome:
    """``lateness``: RECORDER_INSIGHTS_LATENESS; more than a send of the calls may lag
    behind their eventTime on a loaded machine (the full size: 10 s)."""
    ids = account_ids(accounts)
    apis = max(1, series // accounts)
    trails = workdir / "trails.json"
    trails.write_text(json.dumps(_trails(ids, insights_on)))
    env = {
        "RECORDER_TRAILS_FILE": str(trails),
        "RECORDER_INSIGHTS_LATENESS": str(lateness),
        **ENV,
    }
    kept = insights_on * apis
    state_topic = stack.settings().topics.insights_state
    stage = RecorderProcess(stack, ["insights"], workdir / "first", env=env).start()
    try:
        progress(f"sending {accounts * apis:,} calls ({apis} APIs x {accounts} accounts)")
        sent = _send_calls(stack, ids, apis)
        progress(f"sent {sent:,}; waiting for the {kept:,} calls of Insights accounts")
        _wait(
            lambda: stage.metric("recorder_insights_calls_total") >= kept,
            300,
            f"{kept} calls counted",
        )
        # the interval closes by event time: its series records are written then
        _wait(
            lambda: len(_series_records(live_records(stack, state_topic))) >= kept,
            300,
            f"{kept} series records on insights-state",
        )
        events = stage.metric("recorder_insights_events_total")
        late = stage.metric("recorder_insights_late_calls_total")
    finally:
        stage.kill()  # a crash, not a handover: what the closes wrote must be enough
    records = _series_records(live_records(stack, state_topic))
    kept_accounts = {json.loads(k.split(b"|", 2)[2])[0] for k in records}
    progress(f"{len(records):,} series records of {len(kept_accounts)} accounts; restarting")
    t0 = time.monotonic()
    again = RecorderProcess(stack, ["insights"], workdir / "second", env=env).start(wait_ready=600)
    try:
        _wait(  # a dynamic group assigns after the stage is ready
            lambda: again.log_text().count('"insights_partition_assigned"') >= stack.partitions,
            120,
            "every partition of api-events assigned",
        )
        restore = time.monotonic() - t0
        restored = _restored(again.log_text())
        # more calls of every series: counted on, closed, the gauge shows them all
        _send_calls(stack, ids[:insights_on], apis)
        _wait(
            lambda: again.metric("recorder_insights_calls_total") >= kept,
            300,
            "the calls after the restart counted",
        )
        _wait(
            lambda: again.metric("recorder_insights_series") >= kept,
            120,
            "an interval closed after the restart",
        )
        after = int(again.metric("recorder_insights_series"))
        events += again.metric("recorder_insights_events_total")
        late += again.metric("recorder_insights_late_calls_total")
    finally:
        again.stop()
    return Outcome(
        accounts=accounts,
        insights_on=insights_on,
        offered_series=accounts * apis,
        kept_series=len(records),
        kept_accounts=tuple(sorted(kept_accounts)),
        largest_record_bytes=max((len(k) + len(v) for k, v in records.items()), default=0),
        restored_series=restored,
        restore_seconds=restore,
        series_after_restart=after,
        insights_events=events,
        late_calls=late,
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accounts", type=int, default=1000)
    ap.add_argument("--insights-on", type=int, default=100)
    ap.add_argument("--series", type=int, default=100_000)
    ap.add_argument("--lateness", type=float, default=10.0)
    ap.add_argument("--broker", default="noida", choices=["noida", "tansu"])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="insights-scale-") as tmp:
        stack = LocalStack(
            Path(tmp) / "stack",
            kafka_port=free_port(),
            moto_port=free_port(),
            broker_kind=args.broker,
        )
        stack.start()
        try:
            out = run(
                stack,
                Path(tmp),
                args.accounts,
                args.insights_on,
                args.series,
                progress=lambda s: print(s, file=sys.stderr, flush=True),
                lateness=args.lateness,
            )
        finally:
            stack.stop()
    for name, value in asdict(out).items():
        if isinstance(value, tuple):
            value = len(value)
        print(f"{name:24}{value:>14,.2f}" if isinstance(value, float) else f"{name:24}{value:>14,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
