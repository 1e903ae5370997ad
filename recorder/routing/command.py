"""``recorder route``: route CloudTrail records through a trail set, one line each.

    recorder route --trails TRAILS.json [--organizations ORGS.json] [EVENTS.jsonl]

TRAILS.json is a JSON array of trails in DescribeTrails shape, each with optional
``IsLogging`` (default true) and ``EventSelectors`` or ``AdvancedEventSelectors``
(GetEventSelectors shape). ORGS.json maps account ids to organization ids. Each input
line is one CloudTrail record; each output line is either
``{"eventID": ..., "deliveries": [...]}`` or ``{"line": N, "error": ...}``.

Exit status: 0 when every line was a valid record, 1 when some were not, 2 when the
trails or organizations could not be loaded.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from recorder.routing.engine import RoutingEngine
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
    except _LoadError as exc:
        print(f"recorder route: {exc}", file=sys.stderr)
        return 2
    engine = RoutingEngine.compile(trails, organizations)
    if args.events is None:
        return route_lines(engine, sys.stdin, sys.stdout)
    try:
        events = args.events.open(encoding="utf-8")
    except OSError as exc:
        print(f"recorder route: cannot read {args.events}: {exc.strerror}", file=sys.stderr)
        return 2
    with events:
        return route_lines(engine, events, sys.stdout)


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


def route_lines(engine: RoutingEngine, lines: Iterable[str], out: IO[str]) -> int:
    status = 0
    for result in route_stream(engine, lines):
        if "error" in result:
            status = 1
        out.write(json.dumps(result) + "\n")
    out.flush()
    return status


def route_stream(engine: RoutingEngine, lines: Iterable[str]) -> Iterator[dict[str, Any]]:
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
        event_id = record.get("eventID")
        if not isinstance(event_id, str) or not event_id:
            yield {"line": n, "error": "eventID is missing or not a non-empty string"}
            continue
        try:
            deliveries = engine.route(record)
        except RecordError as exc:
            yield {"line": n, "error": str(exc)}
            continue
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
