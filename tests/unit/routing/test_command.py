"""``recorder route``: bad lines, bad trail files, stdin, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.unit.routing.guide_cases import ACCOUNT, DEFAULT, record, trail

RECORDER = Path(sys.executable).parent / "recorder"


def _run(tmp_path: Path, trails: Any, stdin: str, *extra: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "trails.json"
    path.write_text(trails if isinstance(trails, str) else json.dumps(trails))
    return subprocess.run(
        [str(RECORDER), "route", "--trails", str(path), *extra],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_bad_lines_are_reported_and_the_others_routed(tmp_path: Path) -> None:
    good = record("ec2.amazonaws.com", "RunInstances", "ev-good")
    no_account = {k: v for k, v in good.items() if k != "recipientAccountId"}
    no_id = {k: v for k, v in good.items() if k != "eventID"}
    bad_resources = {**good, "eventID": "ev-bad-res", "resources": "arn:aws:s3:::b/k"}
    lines = [
        json.dumps(good),
        "{not json",
        "[1, 2]",
        json.dumps(no_account),
        json.dumps(no_id),
        json.dumps({**good, "readOnly": "yes"}),
        json.dumps(bad_resources),
        "",
        json.dumps({**good, "eventID": "ev-last"}),
    ]
    done = _run(tmp_path, [DEFAULT], "\n".join(lines) + "\n")
    assert done.returncode == 1
    out = [json.loads(line) for line in done.stdout.splitlines()]
    delivered = [{"trailARN": DEFAULT["TrailARN"], "accountId": ACCOUNT, "region": "us-east-2"}]
    assert out[0] == {"eventID": "ev-good", "deliveries": delivered}
    assert [o.get("line") for o in out[1:8]] == [2, 3, 4, 5, 6, 7, 8]
    assert out[1]["error"].startswith("invalid JSON")
    assert out[2]["error"] == "a record is a JSON object"
    assert "recipientAccountId" in out[3]["error"]
    assert "eventID" in out[4]["error"]
    assert "readOnly" in out[5]["error"]
    assert "resources" in out[6]["error"]
    assert out[8] == {"eventID": "ev-last", "deliveries": delivered}
    assert len(out) == len(lines)


def test_all_valid_exits_zero_and_no_match_is_empty(tmp_path: Path) -> None:
    s3 = record("s3.amazonaws.com", "GetObject", "ev-s3")
    done = _run(tmp_path, [DEFAULT], json.dumps(s3) + "\n")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"eventID": "ev-s3", "deliveries": []}


def test_invalid_trail_names_trail_and_code(tmp_path: Path) -> None:
    bad = {**DEFAULT, "Name": "my--trail", "TrailARN": DEFAULT["TrailARN"]}
    done = _run(tmp_path, [DEFAULT, bad], "")
    assert done.returncode == 2
    assert "trail #2 (my--trail): InvalidTrailNameException" in done.stderr
    assert done.stdout == ""


def test_invalid_selectors_named(tmp_path: Path) -> None:
    bad = {**DEFAULT, "EventSelectors": [{"ReadWriteType": "Sometimes"}]}
    done = _run(tmp_path, [bad], "")
    assert done.returncode == 2
    assert "InvalidEventSelectorsException" in done.stderr
    assert "Value Sometimes for ReadWriteType is invalid" in done.stderr


def test_duplicate_and_sixth_trail_refused(tmp_path: Path) -> None:
    done = _run(tmp_path, [DEFAULT, DEFAULT], "")
    assert done.returncode == 2
    assert "TrailAlreadyExistsException" in done.stderr
    six = [
        {
            **DEFAULT,
            "Name": f"t{i}x",
            "TrailARN": DEFAULT["TrailARN"].replace("My-Management-Events-Tail", f"t{i}x"),
        }
        for i in range(6)
    ]
    done = _run(tmp_path, six, "")
    assert done.returncode == 2
    assert "trail #6 (t5x): MaximumNumberOfTrailsExceededException" in done.stderr


def test_unreadable_or_malformed_files(tmp_path: Path) -> None:
    done = _run(tmp_path, "{", "")
    assert done.returncode == 2
    assert "trails file is not JSON" in done.stderr
    done = _run(tmp_path, {"trails": []}, "")
    assert done.returncode == 2
    assert "JSON array" in done.stderr
    done = _run(tmp_path, [DEFAULT], "", "--organizations", str(tmp_path / "missing.json"))
    assert done.returncode == 2
    assert "cannot read" in done.stderr


def test_network_activity_is_routed_to_its_own_folder(tmp_path: Path) -> None:
    """The same answer as the router: a NetworkActivity selector's trail gets the event
    in CloudTrail-NetworkActivity/, a management-events trail nothing."""

    network = trail(
        "network-trail",
        AdvancedEventSelectors=[
            {
                "FieldSelectors": [
                    {"Field": "eventCategory", "Equals": ["NetworkActivity"]},
                    {"Field": "eventSource", "Equals": ["kms.amazonaws.com"]},
                ]
            }
        ],
    )
    event = record(
        "kms.amazonaws.com",
        "ListKeys",
        "ev-vpce",
        eventType="AwsVpceEvent",
        eventCategory="NetworkActivity",
        vpcEndpointId="vpce-0123456789abcdef0",
        vpcEndpointAccountId=ACCOUNT,
    )
    done = _run(tmp_path, [DEFAULT, network], json.dumps(event) + "\n")
    assert done.returncode == 0, done.stderr
    (line,) = [json.loads(x) for x in done.stdout.splitlines()]
    assert [(d["trailARN"].rsplit("/", 1)[1], d.get("folder")) for d in line["deliveries"]] == [
        ("network-trail", "CloudTrail-NetworkActivity")
    ]


def test_the_routers_rule_for_what_a_producer_key_may_write(tmp_path: Path) -> None:
    """With --producers and --key-id each line is judged as the router judges a record
    signed with that key: an account outside the key's is refused, with the router's
    reason; without them no account is checked."""
    from recorder.provenance import ProducerKey
    from recorder.provenance.keys import producers_document

    producers = tmp_path / "producers.json"
    producers.write_text(
        json.dumps(producers_document("app", [ACCOUNT], [ProducerKey.generate("app-1")]))
    )
    own = record("ec2.amazonaws.com", "RunInstances", "ev-own")
    other = {**own, "eventID": "ev-other", "recipientAccountId": "999999999999"}
    stdin = json.dumps(own) + "\n" + json.dumps(other) + "\n"
    signed = _run(tmp_path, [DEFAULT], stdin, "--producers", str(producers), "--key-id", "app-1")
    assert signed.returncode == 1
    first, second = (json.loads(line) for line in signed.stdout.splitlines())
    assert first["eventID"] == "ev-own" and first["deliveries"]
    assert second == {
        "line": 2,
        "error": "producer key app-1 (producer app) may not write for account 999999999999 "
        "(recipientAccountId)",
    }
    assert _run(tmp_path, [DEFAULT], stdin).returncode == 0
    missing = _run(tmp_path, [DEFAULT], stdin, "--producers", str(producers), "--key-id", "x")
    assert missing.returncode == 2 and "no key 'x'" in missing.stderr
