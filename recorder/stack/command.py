"""``recorder stack up|down|status``: the embedded local stack for the quick start."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from recorder.policies.principal import CLOUDTRAIL_SERVICE
from recorder.stack.local import LocalStack, read_state, status, stop_from_state


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["up", "down", "status"])
    parser.add_argument("--root", type=Path, default=Path(".stack"), help="data and logs")
    parser.add_argument("--kafka-port", type=int, default=29092)
    parser.add_argument("--moto-port", type=int, default=5000)
    parser.add_argument("--broker", choices=["noida", "tansu"], default="noida")
    parser.add_argument("--partitions", type=int, default=4)


def run(args: argparse.Namespace) -> int:
    root: Path = args.root
    if args.action == "up":
        if read_state(root) and status(root)["broker_up"]:
            print(json.dumps(status(root), indent=2))
            return 0
        stack = LocalStack(
            root=root,
            kafka_port=args.kafka_port,
            moto_port=args.moto_port,
            broker_kind=args.broker,
            partitions=args.partitions,
        )
        stack.start()
        # The servers keep running after this command exits; `down` stops them.
        stack.broker = stack.moto = None
        print(f"broker   {stack.bootstrap_servers} ({args.broker})")
        print(f"s3/sns/kms {stack.aws_endpoint_url} (moto)")
        print(f"export RECORDER_BOOTSTRAP_SERVERS={stack.bootstrap_servers}")
        print(f"export RECORDER_AWS_ENDPOINT_URL={stack.aws_endpoint_url}")
        print(f"export RECORDER_DELIVERY_PRINCIPAL={CLOUDTRAIL_SERVICE}")
        return 0
    if args.action == "down":
        stopped = stop_from_state(root)
        print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
        return 0
    print(json.dumps(status(root), indent=2))
    return 0
