"""Selector matching throughput: the compiled routing engine beside the reference.

    .venv/bin/python bench/selector_engine.py [--events 20000] [--seed 7]

For each trail-set size, builds trails whose event selectors hold the given number of
data resources (S3 bucket/prefix values and Lambda functions) spread over accounts,
plus one organization trail, and a traffic mix of management events, S3 object events
(on selected and unselected objects, some on another account's bucket) and Lambda
invokes. Prints events/s of ``RoutingEngine.route`` and of ``reference_route`` (which
loops over every trail, selector and data resource), their ratio, and how much the
compiled engine slows from the smallest size to the others.

Targets (issue): compiled >= 10x reference at the large size; compiled throughput
falling by less than 2x from small to large.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recorder.routing import RoutingEngine, reference_route
from recorder.trails import Trail

REGIONS = ("us-east-1", "us-east-2", "us-west-2", "eu-west-1")
ORG = "o-benchorg01"


@dataclass(frozen=True)
class Size:
    label: str
    trails: int
    resources_per_trail: int
    accounts: int


SIZES = (
    Size("small", 5, 250, 1),
    Size("large", 50, 50, 10),  # 50 trails x 2,500 data resources in all
    Size("large, full", 50, 250, 10),  # 50 trails x 12,500: every trail at the limit
)


def account(i: int) -> str:
    return f"{100000000000 + i:012d}"


def build_trails(size: Size) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Trails with their data resources; resource j of trail t names bucket
    ``b-<t>-<j//5>`` with prefix ``p<j%5>/`` (every fifth a Lambda function)."""
    docs = []
    for t in range(size.trails):
        owner = account(t % size.accounts)
        s3, lam = [], []
        for j in range(size.resources_per_trail):
            if j % 5 == 4:
                lam.append(f"arn:aws:lambda:us-east-1:{owner}:function:fn-{t}-{j}")
            else:
                s3.append(f"arn:aws:s3:::b-{t}-{j // 5}/p{j % 5}/")
        # split over up to five selectors, as a real trail at the limit would be
        chunks = 5
        selectors = []
        for c in range(chunks):
            resources = []
            part_s3, part_lam = s3[c::chunks], lam[c::chunks]
            if part_s3:
                resources.append({"Type": "AWS::S3::Object", "Values": part_s3})
            if part_lam:
                resources.append({"Type": "AWS::Lambda::Function", "Values": part_lam})
            if resources:
                selectors.append(
                    {
                        "ReadWriteType": ("All", "WriteOnly", "ReadOnly")[(t + c) % 3],
                        "IncludeManagementEvents": c == 0,
                        "ExcludeManagementEventSources": ["kms.amazonaws.com"] if t % 2 else [],
                        "DataResources": resources,
                    }
                )
        name = f"bench-{t}"
        docs.append(
            {
                "Name": name,
                "TrailARN": f"arn:aws:cloudtrail:us-east-1:{owner}:trail/{name}",
                "HomeRegion": "us-east-1",
                "S3BucketName": f"logs-{t}",
                "IsMultiRegionTrail": t % 4 != 3,
                "IncludeGlobalServiceEvents": True,
                "IsOrganizationTrail": t == 0,
                "EventSelectors": selectors,
            }
        )
    organizations = {account(i): ORG for i in range(size.accounts)}
    return docs, organizations


def build_events(size: Size, n: int, rng: random.Random) -> list[dict[str, Any]]:
    events = []
    for i in range(n):
        caller = account(rng.randrange(size.accounts))
        region = rng.choice(REGIONS)
        record: dict[str, Any] = {
            "eventVersion": "1.08",
            "eventID": f"ev-{i}",
            "awsRegion": region,
            "recipientAccountId": caller,
            "userIdentity": {"type": "IAMUser", "accountId": caller},
        }
        kind = rng.random()
        t = rng.randrange(size.trails)
        owner = account(t % size.accounts)
        j = rng.randrange(size.resources_per_trail)
        if kind < 0.40:
            source, name = rng.choice(
                [
                    ("ec2.amazonaws.com", "DescribeInstances"),
                    ("ec2.amazonaws.com", "RunInstances"),
                    ("kms.amazonaws.com", "Decrypt"),
                    ("iam.amazonaws.com", "CreateUser"),
                    ("s3.amazonaws.com", "CreateBucket"),
                ]
            )
            record.update(eventSource=source, eventName=name)
        elif kind < 0.85:
            # half on a selected prefix, half just outside it; the bucket is the
            # trail owner's, so callers of other accounts trigger the owner rule
            key = f"p{j % 5}/obj-{i}" if rng.random() < 0.5 else f"q{j % 5}/obj-{i}"
            bucket = f"b-{t}-{j // 5}"
            record.update(
                eventSource="s3.amazonaws.com",
                eventName=rng.choice(["GetObject", "PutObject"]),
                resources=[
                    {"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{key}"},
                    {
                        "type": "AWS::S3::Bucket",
                        "ARN": f"arn:aws:s3:::{bucket}",
                        "accountId": owner,
                    },
                ],
            )
        else:
            fn = f"arn:aws:lambda:us-east-1:{owner}:function:fn-{t}-{j - j % 5 + 4}"
            record.update(
                eventSource="lambda.amazonaws.com",
                eventName="Invoke",
                resources=[{"type": "AWS::Lambda::Function", "ARN": fn, "accountId": owner}],
            )
        events.append(record)
    return events


def rate(route: Any, events: list[dict[str, Any]], min_seconds: float = 1.0) -> float:
    done, start = 0, time.perf_counter()
    while True:
        for e in events:
            route(e)
        done += len(events)
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return done / elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    rows = []
    for size in SIZES:
        docs, orgs = build_trails(size)
        trails = [Trail.from_api(d) for d in docs]
        engine = RoutingEngine.compile(trails, orgs)
        events = build_events(size, args.events, rng)
        sample = events[: max(200, args.events // 20)]
        matched = 0
        for e in sample:  # the two must agree before their speeds mean anything
            got = engine.route(e)
            assert got == reference_route(trails, orgs, e), e["eventID"]
            matched += bool(got)
        compiled = rate(engine.route, events)
        reference = rate(lambda e, t=trails, o=orgs: reference_route(t, o, e), sample)
        resources = size.trails * size.resources_per_trail
        rows.append((size, resources, compiled, reference, matched / len(sample)))
    base = rows[0][2]
    print(f"{len(SIZES)} sizes, {args.events:,} events each (reference timed on a 5% sample)\n")
    head = (
        f"{'size':<12} {'trails':>6} {'data res.':>9} {'accounts':>8} {'matched':>8} "
        f"{'compiled ev/s':>14} {'reference ev/s':>15} {'ratio':>7} {'vs small':>9}"
    )
    print(head)
    print("-" * len(head))
    for size, resources, compiled, reference, hit in rows:
        print(
            f"{size.label:<12} {size.trails:>6} {resources:>9,} {size.accounts:>8} {hit:>8.0%} "
            f"{compiled:>14,.0f} {reference:>15,.0f} {compiled / reference:>6.1f}x "
            f"{base / compiled:>8.2f}x"
        )
    print(
        "\nratio = compiled / reference; vs small = how many times slower the compiled "
        "engine is than at the small size (target < 2x; ratio target >= 10x at large)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
