"""``recorder prove s3://bucket/key``: an inclusion proof for a log file or digest.

Finds the Merkle log beside the object (one per trail; ``--trail-arn`` to name it),
the object's entry, and prints a JSON proof bundle: the entry, its index, the audit
path to the log's newest signed checkpoint, and the checkpoint. With ``--since
FILE`` (a checkpoint kept from before) it also carries the consistency proof from
that checkpoint to this one. ``recorder verify PROOF`` checks it offline.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from recorder.integrity import audit, tlog
from recorder.integrity.naming import digest_chain
from recorder.integrity.s3objects import Bucket, note_size, place_of
from recorder.trails.destination import Destination


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", help="s3://BUCKET/KEY of a log file or digest")
    parser.add_argument("--trail-arn", help="the trail whose log to look in (default: each)")
    parser.add_argument("--since", type=Path, help="a checkpoint kept from before")
    parser.add_argument("--output", type=Path, help="write the proof here (default: stdout)")
    parser.add_argument("--s3-endpoint-url", help="the S3 endpoint (default: AWS_ENDPOINT_URL_S3)")


def run(args: argparse.Namespace) -> int:
    import boto3

    try:
        place, key = place_of(args.url)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 255
    store = Bucket(boto3.client("s3", endpoint_url=args.s3_endpoint_url))
    if args.trail_arn:
        chain = digest_chain(
            Destination(args.trail_arn, place.account_id, place.region, place.org_id)
        )
        origins = [tlog.origin(place.bucket, chain, place.prefix)]
    else:
        origins = store.logs(place)
    since = args.since.read_text() if args.since else None
    for origin in origins:
        note = store.checkpoint(origin)
        if note is None:
            continue
        entries = store.entries(origin, note_size(note))
        for index, entry in enumerate(entries):
            doc = tlog.parse_entry(entry)
            if (doc["s3Bucket"], doc["s3Object"]) == (place.bucket, key):
                try:
                    bundle = audit.prove(entries, index, note, since)
                except ValueError as exc:
                    print(f"{origin}: {exc}", file=sys.stderr)
                    return 1
                text = json.dumps(bundle, indent=2) + "\n"
                if args.output:
                    args.output.write_text(text)
                else:
                    sys.stdout.write(text)
                return 0
    print(
        f"{args.url} is in no Merkle log under s3://{place.bucket}/"
        f"{place.folder('CloudTrail-Tlog')}",
        file=sys.stderr,
    )
    return 1
