"""Every routing example of the guide, through the library and through ``recorder route``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from recorder.routing import RoutingEngine, reference_route
from recorder.trails import Trail
from recorder.trails.destination import Destination
from tests.unit.routing.guide_cases import SCENARIOS, Case, Expected, Scenario

RECORDER = Path(sys.executable).parent / "recorder"

_CASES = [pytest.param(s, c, id=f"line {c.line}: {c.says}") for s in SCENARIOS for c in s.cases]


def _delivery(e: Expected) -> Destination:
    return Destination(*e)


@pytest.mark.parametrize(("scenario", "case"), _CASES)
def test_engine(scenario: Scenario, case: Case) -> None:
    trails = [Trail.from_api(t) for t in scenario.trails]
    engine = RoutingEngine.compile(
        trails, scenario.organizations, bucket_owners=scenario.bucket_owners
    )
    expected = [_delivery(e) for e in case.deliveries]
    assert engine.route(case.record) == expected
    assert (
        reference_route(
            trails, scenario.organizations, case.record, bucket_owners=scenario.bucket_owners
        )
        == expected
    )


def _json_delivery(e: Expected) -> dict[str, str]:
    out = {"trailARN": e[0], "accountId": e[1], "region": e[2]}
    if len(e) == 4:
        out["organizationId"] = e[3]
    return out


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_recorder_route_command(scenario: Scenario, tmp_path: Path) -> None:
    trails = tmp_path / "trails.json"
    trails.write_text(json.dumps(scenario.trails))
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps(c.record) + "\n" for c in scenario.cases))
    argv = [str(RECORDER), "route", "--trails", str(trails), str(events)]
    if scenario.organizations:
        orgs = tmp_path / "orgs.json"
        orgs.write_text(json.dumps(scenario.organizations))
        argv[4:4] = ["--organizations", str(orgs)]
    if scenario.bucket_owners:
        owners = tmp_path / "owners.json"
        owners.write_text(json.dumps(scenario.bucket_owners))
        argv[4:4] = ["--owners", str(owners)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert lines == [
        {"eventID": c.record["eventID"], "deliveries": [_json_delivery(e) for e in c.deliveries]}
        for c in scenario.cases
    ]
