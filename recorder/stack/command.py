"""``recorder stack up|down|status``: the embedded local stack for the quick start."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from recorder.policies.principal import CLOUDTRAIL_SERVICE
from recorder.stack.local import (
    RETENTION_MARGIN,
    LocalStack,
    add_retention_margin_argument,
    read_state,
    status,
    stop_from_state,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["up", "down", "status"])
    parser.add_argument("--root", type=Path, default=Path(".stack"), help="data and logs")
    parser.add_argument("--kafka-port", type=int, default=29092)
    parser.add_argument("--moto-port", type=int, default=5000)
    parser.add_argument("--broker", choices=["noida", "tansu"], default="noida")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument(
        "--api-port", type=int, default=None, help="the stack's recorder's control API port"
    )
    parser.add_argument(
        "--metrics-port", type=int, default=None, help="the stack's recorder's metrics port"
    )
    add_retention_margin_argument(parser, RETENTION_MARGIN)
    parser.add_argument(
        "--strict",
        action="store_true",
        help="S3/SNS/KMS refuse what the resources' policies do not allow, as AWS does",
    )
    parser.add_argument(
        "--delivery-principal",
        default=CLOUDTRAIL_SERVICE,
        help="with --strict: who recorder delivers as (a role ARN, as on AWS)",
    )


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
            strict=args.strict,
            delivery_principal=args.delivery_principal,
            api_port=args.api_port,
            metrics_port=args.metrics_port,
            retention_margin=args.retention_margin,
        )
        stack.start()
        retention = stack.retention
        # The servers keep running after this command exits; `down` stops them.
        stack.broker = stack.moto = stack.proxy = stack.retention = None
        print(f"broker   {stack.bootstrap_servers} ({args.broker})")
        if retention is not None:
            print(
                f"retention: records every group read {args.retention_margin:g} s ago are "
                f"deleted (metrics http://127.0.0.1:{retention.port}/metrics)"
            )
        what = "strict proxy before moto" if args.strict else "moto"
        print(f"s3/sns/kms {stack.aws_endpoint_url} ({what})")
        for name, value in stack.environment().items():
            if name != "RECORDER_PARTITIONS":
                print(f"export {name}={value}")
        return 0
    if args.action == "down":
        stopped = stop_from_state(root)
        print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
        return 0
    print(json.dumps(status(root), indent=2))
    return 0
