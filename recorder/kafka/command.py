"""``recorder topics``: create and check recorder's topics on the configured cluster.

The Helm chart does not create topics; run this once against the cluster (same
``RECORDER_*`` settings as the services, TLS/SASL included) before installing, with
the replication factor the cluster should keep, e.g. ``--replication-factor 3``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from recorder.kafka.topics import ensure_topics
from recorder.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--replication-factor",
        type=int,
        default=1,
        help="replicas per partition for topics this creates (3 on a production cluster)",
    )
    parser.add_argument("--wait", type=float, default=30.0, help="seconds to wait for the broker")


def run(args: argparse.Namespace) -> int:
    if args.replication_factor < 1:
        print("recorder topics: --replication-factor must be >= 1", file=sys.stderr)
        return 2
    settings = Settings.from_env()  # a SettingsError is reported by recorder.cli
    try:
        checks = asyncio.run(
            ensure_topics(settings, wait=args.wait, replication_factor=args.replication_factor)
        )
    except TimeoutError as exc:
        print(f"recorder topics: {exc}", file=sys.stderr)
        return 1
    bad = 0
    for c in checks:
        state = "created" if c.created else "exists"
        print(f"{state:8} {c.name} ({c.partitions} partitions)")
        for problem in c.problems:
            print(f"  problem: {problem}", file=sys.stderr)
            bad += 1
    return 1 if bad else 0
