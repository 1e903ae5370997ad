"""``recorder route``: route CloudTrail records through a trail set, one line each.

    recorder route --trails TRAILS.json [--organizations ORGS.json] [--owners OWNERS.json]
                   [--producers PRODUCERS.json --key-id KEY] [EVENTS.jsonl]

TRAILS.json is a JSON array of trails in DescribeTrails shape, each with optional
``IsLogging`` (default true) and ``EventSelectors`` or ``AdvancedEventSelectors``
(GetEventSelectors shape). ORGS.json maps account ids to organization ids, OWNERS.json
bucket names to their owners' account ids (the router's ``RECORDER_BUCKET_OWNERS_FILE``).
Each input line is one CloudTrail record; each output line is either
``{"eventID": ..., "deliveries": [...]}`` or ``{"line": N, "error": ...}``.

A line is admitted and routed by the router's own rule (:mod:`recorder.routing.rule`):
routed by its routing fields (what routing needs, and, with ``--producers`` and
``--key-id``, the accounts that key may write for, as if the line had come signed
with it), then, when some trail selects it, admitted whole (the guide's rules). As in
the router, a record no trail selects is not checked further: its answer is no
deliveries. (The router also checks the signature over the record's bytes; a JSON
line has none.)

Exit status: 0 when every line was admitted, 1 when some were not, 2 when the trails,
organizations, owners or producers could not be loaded.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from recorder.events import InvalidEventError
from recorder.provenance import ProducerKeys, Rejected
from recorder.provenance.admission import Routable, admit_fields
from recorder.provenance.keys import Producer
from recorder.routing.engine import RoutingEngine
from recorder.routing.owners import load_owners_file
from recorder.routing.rule import decide
from recorder.selectors import RecordError
from recorder.trails import Trail, TrailError, check_trail_limit
from recorder.trails.destination import Destination


class _LoadError(Exception):
    pass


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--trails",
        required=True,
        type=Path,
        metavar="TRAILS.json",
        help="JSON array of trails (DescribeTrails shape + IsLogging, EventSelectors or "
        "AdvancedEventSelectors)",
    )
    parser.add_argument(
        "--organizations",
        type=Path,
        metavar="ORGS.json",
        help='JSON object mapping account ids to organization ids, {"111111111111": "o-..."}',
    )
    parser.add_argument(
        "--owners",
        type=Path,
        metavar="OWNERS.json",
        help='JSON object mapping bucket names to their owners, {"bucket": "111111111111"}',
    )
    parser.add_argument(
        "--producers",
        type=Path,
        metavar="PRODUCERS.json",
        help="the router's producers file (RECORDER_PRODUCERS_FILE); with --key-id",
    )
    parser.add_argument(
        "--key-id",
        metavar="KEY",
        help="judge each line as a record signed with this producer key",
    )
    parser.add_argument(
        "events",
        nargs="?",
        type=Path,
        metavar="EVENTS.jsonl",
        help="one CloudTrail record per line (default: standard input)",
    )


def run(args: argparse.Namespace) -> int:
    try:
        trails = load_trails(_read(args.trails))
        organizations = load_organizations(_read(args.organizations)) if args.organizations else {}
        owners = load_owners_file(args.owners) if args.owners else {}
        signer = _signer(args.producers, args.key_id)
    except (_LoadError, ValueError) as exc:
        print(f"recorder route: {exc}", file=sys.stderr)
        return 2
    engine = RoutingEngine.compile(trails, organizations, bucket_owners=owners)
    if args.events is None:
        return route_lines(engine, sys.stdin, sys.stdout, signer)
    try:
        events = args.events.open(encoding="utf-8")
    except OSError as exc:
        print(f"recorder route: cannot read {args.events}: {exc.strerror}", file=sys.stderr)
        return 2
    with events:
        return route_lines(engine, events, sys.stdout, signer)


def _signer(path: Path | None, key_id: str | None) -> tuple[Producer, str] | None:
    """The producer whose key the lines are judged as signed with."""
    if path is None and key_id is None:
        return None
    if path is None or key_id is None:
        raise _LoadError("--producers and --key-id go together")
    keys = ProducerKeys.from_file(path)
    entry = keys.entry(key_id)
    if entry is None:
        raise _LoadError(f"{path}: no key {key_id!r}")
    return entry.producer, key_id


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise _LoadError(f"cannot read {path}: {exc.strerror}") from None


def load_trails(text: str) -> list[Trail]:
    """Parse and validate a trails document; errors name the trail and the code."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _LoadError(f"trails file is not JSON: {exc}") from None
    if not isinstance(doc, list):
        raise _LoadError("trails file must be a JSON array of trails")
    trails: list[Trail] = []
    seen: set[str] = set()
    for i, raw in enumerate(doc, 1):
        label = f"trail #{i}"
        if isinstance(raw, Mapping) and isinstance(raw.get("Name"), str):
            label += f" ({raw['Name']})"
        try:
            trail = Trail.from_api(raw)
            if trail.trail_arn in seen:
                raise TrailError(
                    "TrailAlreadyExistsException", f"Trail {trail.trail_arn} appears twice."
                )
            check_trail_limit(trails, trail)
        except TrailError as exc:
            raise _LoadError(f"{label}: {exc.code}: {exc.message}") from None
        seen.add(trail.trail_arn)
        trails.append(trail)
    return trails


def load_organizations(text: str) -> dict[str, str]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _LoadError(f"organizations file is not JSON: {exc}") from None
    if not isinstance(doc, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in doc.items()
    ):
        raise _LoadError('organizations file must be an object {"<account>": "<org-id>"}')
    return dict(doc)


def route_lines(
    engine: RoutingEngine,
    lines: Iterable[str],
    out: IO[str],
    signer: tuple[Producer, str] | None = None,
) -> int:
    status = 0
    for result in route_stream(engine, lines, signer):
        if "error" in result:
            status = 1
        out.write(json.dumps(result) + "\n")
    out.flush()
    return status


def route_stream(
    engine: RoutingEngine, lines: Iterable[str], signer: tuple[Producer, str] | None = None
) -> Iterator[dict[str, Any]]:
    """One result per input line, in order; a bad line never stops the others."""
    for n, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            yield {"line": n, "error": f"invalid JSON: {exc.msg}"}
            continue
        if not isinstance(record, dict):
            yield {"line": n, "error": "a record is a JSON object"}
            continue
        try:
            producer, key_id = signer if signer is not None else (None, None)
            key = record.get("recipientAccountId") if producer is not None else None
            routable = Routable.of_record(
                record, producer, key_id, key.encode() if isinstance(key, str) else None
            )
            admit_fields(routable)
            deliveries = decide(engine, routable)
        except (Rejected, InvalidEventError, RecordError) as exc:
            yield {"line": n, "error": str(exc)}
            continue
        event_id = routable.fields["eventID"]
        yield {"eventID": event_id, "deliveries": [delivery_json(d) for d in deliveries]}


def delivery_json(d: Destination) -> dict[str, str]:
    """One delivery as ``recorder route`` prints it: the organization only when set,
    named in full (``organizationId``), unlike the digester's four-field form; the
    folder only when it is not ``CloudTrail`` (network activity events)."""
    out = {"trailARN": d.trail_arn, "accountId": d.account_id, "region": d.region}
    if d.org_id is not None:
        out["organizationId"] = d.org_id
    if d.kind:
        out["folder"] = d.folder
    return out
