"""Insights detection throughput beside the router's per-event work, in one run.

    .venv/bin/python bench/insights.py [--events 200000] [--apis 200] [--accounts 20]

Builds N Avro-encoded ``api-events`` records (write and read management calls over
A accounts and P APIs, some failing, one call per record, event times spread over
``N / 2000`` minutes), then measures on one core, each over the same encoded
records:

* decode  - ``recorder.events.decode`` alone: what every consumer of api-events pays
            (the floor both stages share).
* router  - the router's per-event work without Kafka: decode, validate, classify,
            route through the compiled engine (one all-management trail per account),
            render the CloudTrail JSON.
* insights - the stage's per-message work (``InsightsStage._observe``: decode, series,
            bucket, count) plus closing every minute of the detector
            (``Detector.close_through``) and taking its changed series records
            (``Detector.take_changes``) as the stage does; every account has Insights on.

Prints events per CPU-second (process time: a shared machine's waiting is not counted)
of each and insights/router, insights/decode. The stage must not be
the pipeline's slowest: insights/router >= 1 (both then pay the same Kafka I/O).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Any, NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recorder.events import decode
from recorder.events.codec import encode
from recorder.events.validate import validate_record
from recorder.events.windows import Watermark
from recorder.insights.detector import Detector
from recorder.insights.service import InsightsStage, _Partition
from recorder.insights.streams import Coverage
from recorder.provenance.admission import fill_classification as _fill_classification
from recorder.provenance.admission import require_routable
from recorder.routing import RoutingEngine
from recorder.routing.service import rendered_for
from recorder.settings import Settings
from recorder.trails import Trail

SOURCES = ("ec2.amazonaws.com", "iam.amazonaws.com", "sns.amazonaws.com", "ssm.amazonaws.com")
VERBS = ("Create", "Delete", "Put", "Update", "Describe", "Get", "List")
START = 1_764_547_200  # 2025-12-01T00:00:00Z


class Message(NamedTuple):
    offset: int
    value: bytes


def make_records(n: int, apis: int, accounts: int, seed: int = 7) -> list[bytes]:
    rng = random.Random(seed)
    names = [(SOURCES[i % len(SOURCES)], f"{VERBS[i % len(VERBS)]}Thing{i}") for i in range(apis)]
    out = []
    for i in range(n):
        source, name = rng.choice(names)
        account = f"{100000000000 + rng.randrange(accounts):012d}"
        t = START + i * 60 // 2000  # 2000 calls a minute
        record: dict[str, Any] = {
            "eventVersion": "1.08",
            "userIdentity": {"type": "IAMUser", "accountId": account, "userName": "Alice"},
            "eventTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)),
            "eventSource": source,
            "eventName": name,
            "awsRegion": "us-east-1",
            "sourceIPAddress": "192.0.2.10",
            "userAgent": "aws-cli/2.0",
            "requestParameters": {"name": f"thing-{i}"},
            "responseElements": None,
            "requestID": f"req-{i}",
            "eventID": f"00000000-0000-4000-8000-{i:012d}",
            "readOnly": name.startswith(("Describe", "Get", "List")),
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": account,
            "eventCategory": "Management",
        }
        if rng.random() < 0.05:
            record["errorCode"] = "AccessDenied"
            record["errorMessage"] = "denied"
        out.append(encode(record))
    return out


def bench_decode(values: list[bytes]) -> float:
    t0 = time.process_time()
    for v in values:
        decode(v)
    return len(values) / (time.process_time() - t0)


def bench_router(values: list[bytes], accounts: int) -> float:
    trails = [
        Trail.from_api(
            {
                "Name": "all",
                "TrailARN": f"arn:aws:cloudtrail:us-east-1:{100000000000 + a:012d}:trail/all",
                "S3BucketName": "bench-logs",
                "IsMultiRegionTrail": True,
            }
        )
        for a in range(accounts)
    ]
    engine = RoutingEngine.compile(trails, {})
    t0 = time.process_time()
    for v in values:
        record = decode(v)
        validate_record(record)
        require_routable(record)
        _fill_classification(record)
        deliveries = engine.route(record)
        if deliveries:
            rendered_for(record, deliveries)
    return len(values) / (time.process_time() - t0)


def bench_insights(values: list[bytes], accounts: int) -> tuple[float, int]:
    stage = InsightsStage(Settings(insights_baseline_window=30), registry=None)
    part = _Partition(Detector(stage.rule), 0, Watermark(60.0, 60.0))
    coverage = Coverage(
        [
            Trail.from_api(
                {
                    "Name": "all",
                    "TrailARN": f"arn:aws:cloudtrail:us-east-1:{100000000000 + a:012d}:trail/all",
                    "S3BucketName": "bench-logs",
                    "IsMultiRegionTrail": True,
                    "InsightSelectors": [
                        {"InsightType": "ApiCallRateInsight"},
                        {"InsightType": "ApiErrorRateInsight"},
                    ],
                }
            )
            for a in range(accounts)
        ],
        {},
    )
    messages = [Message(i, v) for i, v in enumerate(values)]
    decided = 0
    det = part.detector
    t0 = time.process_time()
    for i in range(0, len(messages), 5000):  # the stage's poll size
        stage._observe(part, messages[i : i + 5000], coverage)
        newest = part.watermark.newest
        if newest:  # closed by event time, as the stage does with a lateness of a minute
            decided += len(det.close_through(det.bucket_of(newest) - 1))
            det.take_changes()
    decided += len(det.close_through(det.bucket_of(part.watermark.newest or 0)))
    return len(values) / (time.process_time() - t0), decided


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--apis", type=int, default=200)
    parser.add_argument("--accounts", type=int, default=20)
    args = parser.parse_args()
    values = make_records(args.events, args.apis, args.accounts)
    floor = bench_decode(values)
    router = bench_router(values, args.accounts)
    insights, decided = bench_insights(values, args.accounts)
    print(f"events: {len(values)}  APIs: {args.apis}  accounts: {args.accounts}")
    print(f"decode (floor)       {floor:>12,.0f} events/s")
    print(f"router per-event     {router:>12,.0f} events/s")
    print(f"insights stage       {insights:>12,.0f} events/s  ({decided} Insights events)")
    print(f"insights / router    {insights / router:>12.2f}  (target >= 1: not the slowest)")
    print(f"insights / decode    {insights / floor:>12.2f}")


if __name__ == "__main__":
    main()
