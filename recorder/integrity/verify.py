"""``recorder verify``: check Merkle log proofs with nothing but the log's public key.

Two forms:

* ``recorder verify --public-key KEY PROOF.json [--file LOCAL.json.gz]``: a proof
  bundle from ``recorder prove``, offline: the checkpoint's signature, the entry's
  inclusion, the file's hash if given, and the consistency of a checkpoint kept
  before (``prove --since``).
* ``recorder verify --public-key KEY --bucket B --trail-arn ARN [--checkpoint FILE]``:
  an audit of the trail's log as S3 holds it: the checkpoint, every entry against
  it, every checkpoint kept from before (a truncated or rewritten log), every log
  file and digest it names (gone, altered), every digest's own checkpoint and
  listing, and every object in the trail's folders the log does not hold (a file
  moved or copied into another window). Each problem is one line naming it.

``KEY`` is the region's Ed25519 log key, base64 or as a note verifier key
(``s3://<keys bucket>/tlog/<region>.pub``); take it from a source you trust.
Exit status: 0 verified, 1 a problem found, 255 the command could not run.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from recorder.aws.arn import arn_or_none
from recorder.integrity import audit, tlog
from recorder.integrity.naming import digest_chain, digest_key_pattern
from recorder.integrity.s3objects import Bucket, Place, note_size
from recorder.trails.destination import Destination


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("proof", nargs="?", type=Path, help="a proof from recorder prove")
    key = parser.add_mutually_exclusive_group(required=True)
    key.add_argument("--public-key", help="the log's Ed25519 public key (base64 or vkey)")
    key.add_argument("--public-key-file", type=Path)
    parser.add_argument("--file", type=Path, help="the object itself (gzip), to hash")
    parser.add_argument("--bucket", help="audit the log in this bucket")
    parser.add_argument("--trail-arn", help="the trail whose log to audit")
    parser.add_argument("--s3-prefix", help="the trail's S3 key prefix")
    parser.add_argument("--region", help="the region of the log (default: the trail's)")
    parser.add_argument("--account-id", help="the account folder (default: the trail's)")
    parser.add_argument("--organization-id", help="for an organization trail")
    parser.add_argument(
        "--checkpoint", type=Path, action="append", default=[], help="a checkpoint kept before"
    )
    parser.add_argument("--s3-endpoint-url", help="the S3 endpoint (default: AWS_ENDPOINT_URL_S3)")


def run(args: argparse.Namespace) -> int:
    try:
        text = args.public_key or args.public_key_file.read_text()
        public = tlog.public_key_from(text)
    except (ValueError, OSError) as exc:
        print(f"bad public key: {exc}", file=sys.stderr)
        return 255
    if args.proof is not None:
        return _proof(args, public)
    if not (args.bucket and args.trail_arn):
        print("give a PROOF, or --bucket and --trail-arn to audit a log", file=sys.stderr)
        return 255
    return _audit(args, public)


def _proof(args: argparse.Namespace, public: bytes) -> int:
    bundle = json.loads(args.proof.read_text())
    file_gz = args.file.read_bytes() if args.file else None
    problems = audit.check_proof(bundle, public, file_gz)
    entry = tlog.parse_entry(str(bundle["entry"]).encode())
    what = f"s3://{entry['s3Bucket']}/{entry['s3Object']}"
    for p in problems:
        print(f"{what}\tINVALID: {p}", file=sys.stderr)
    if problems:
        return 1
    size = bundle.get("treeSize")
    print(f"{what}\tvalid: entry {bundle['index']} of {bundle['origin']} (size {size})")
    if bundle.get("consistency"):
        print("the checkpoint kept is consistent with this one (the log only grew)")
    if args.file:
        print(f"{args.file}\tvalid: its SHA-256 is the entry's")
    return 0


def _audit(args: argparse.Namespace, public: bytes) -> int:
    import boto3

    arn = arn_or_none(args.trail_arn)
    if arn is None:
        print(f"Invalid trail ARN provided: {args.trail_arn}", file=sys.stderr)
        return 255
    region = args.region or arn.region
    chain = digest_chain(
        Destination(args.trail_arn, args.account_id or arn.account, region, args.organization_id)
    )
    store = Bucket(boto3.client("s3", endpoint_url=args.s3_endpoint_url))
    origin = tlog.origin(args.bucket, chain, args.s3_prefix)
    note = store.checkpoint(origin)
    if note is None:
        print(f"s3://{origin}/checkpoint\tINVALID: not found (no Merkle log)", file=sys.stderr)
        return 1
    place = Place(args.bucket, args.s3_prefix, chain.org_id, chain.account_id, region)
    try:
        entries = store.entries(origin, note_size(note))
    except (LookupError, ValueError) as exc:
        print(f"s3://{origin}/{exc}\tINVALID: entry bundle not found or damaged", file=sys.stderr)
        return 1
    pattern = digest_key_pattern(chain, args.s3_prefix)
    listed = [
        (args.bucket, k)
        for name in ("CloudTrail", "CloudTrail-Insight")
        for k in store.keys(args.bucket, place.folder(name))
    ]
    listed += [
        (args.bucket, k)
        for k in store.keys(args.bucket, place.folder("CloudTrail-Digest"))
        if pattern.match(k)
    ]
    elsewhere: set[tuple[str, str]] = set()
    for other in store.logs(place):
        if other == origin:
            continue
        other_note = store.checkpoint(other)
        if other_note is not None:
            for e in store.entries(other, note_size(other_note)):
                d = tlog.parse_entry(e)
                elsewhere.add((d["s3Bucket"], d["s3Object"]))
    kept = [(str(p), p.read_text()) for p in args.checkpoint]
    findings, counts = audit.audit(
        note=note,
        public=public,
        origin=origin,
        entries=entries,
        fetch=store.get,
        kept=kept,
        listed=listed,
        elsewhere=elsewhere,
    )
    for f in findings:
        print(str(f), file=sys.stderr)
    print(
        f"Merkle log s3://{origin}: {counts['entries']} entries, {counts['logs']} log files "
        f"and {counts['digests']} digests checked, {counts['checkpoints']} kept checkpoints, "
        f"{counts['pending']} objects newer than its last digest (not in it yet)"
    )
    print(f"{len(findings)} problem{'s' if len(findings) != 1 else ''} found")
    return 1 if findings else 0
