"""Data events of the services the conventions table adds (DynamoDB items, ...) reach
exactly the trails whose advanced selectors take their resource type, in the router
and in ``recorder route`` alike: CloudTrail logs them only for such trails (CloudTrail
User Guide, Logging data events; DynamoDB Developer Guide, "DynamoDB data plane events
in CloudTrail")."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from recorder.events import decode, encode
from recorder.producer import Identity, install
from recorder.routing import RoutingEngine
from recorder.trails import Trail
from recorder.trails.errors import TrailError
from tests.unit.producer.helpers import RenderingSink
from tests.unit.routing.guide_cases import ACCOUNT, trail

RECORDER = Path(sys.executable).parent / "recorder"
ME = Identity(account_id=ACCOUNT, access_key_id="AKIAIOSFODNN7EXAMPLE", user_name="Alice")
TABLE = f"arn:aws:dynamodb:us-east-2:{ACCOUNT}:table/Music"

MANAGEMENT = trail("management")
TABLES = trail(
    "music-table",
    AdvancedEventSelectors=[
        {
            "Name": "Music items",
            "FieldSelectors": [
                {"Field": "eventCategory", "Equals": ["Data"]},
                {"Field": "resources.type", "Equals": ["AWS::DynamoDB::Table"]},
                {"Field": "resources.ARN", "Equals": [TABLE]},
            ],
        },
        {
            "Name": "Management",
            "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}],
        },
    ],
)
OBJECTS = trail(
    "objects",
    AdvancedEventSelectors=[
        {
            "FieldSelectors": [
                {"Field": "eventCategory", "Equals": ["Data"]},
                {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
            ]
        }
    ],
)


def hooked_dynamodb_records() -> list[dict[str, Any]]:
    c = boto3.Session(
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key="x", region_name="us-east-2"
    ).client("dynamodb")
    sink = RenderingSink()
    install(c, sink, identity=ME)
    with Stubber(c) as stub:
        stub.add_response("put_item", {})
        stub.add_response("describe_table", {"Table": {"TableName": "Music"}})
        c.put_item(TableName="Music", Item={"Artist": {"S": "No One You Know"}})
        c.describe_table(TableName="Music")
    return [decode(encode(r)) for r in sink.records()]


def trails_named(deliveries: Any) -> set[str]:
    return {d.trail_arn.rsplit("/", 1)[1] for d in deliveries}


def test_an_item_call_reaches_the_trail_selecting_its_table_and_no_management_trail(
    tmp_path: Path,
) -> None:
    put, describe = hooked_dynamodb_records()
    assert (put["eventCategory"], put["managementEvent"]) == ("Data", False)
    assert put["resources"] == [
        {"accountId": ACCOUNT, "type": "AWS::DynamoDB::Table", "ARN": TABLE}
    ]
    assert describe["eventCategory"] == "Management"
    docs = [MANAGEMENT, TABLES, OBJECTS]
    engine = RoutingEngine.compile([Trail.from_api(d) for d in docs])
    assert trails_named(engine.route(put)) == {"music-table"}
    assert trails_named(engine.route(describe)) == {"management", "music-table"}

    path = tmp_path / "trails.json"
    path.write_text(json.dumps(docs))
    done = subprocess.run(
        [str(RECORDER), "route", "--trails", str(path)],
        input="\n".join(json.dumps(r) for r in (put, describe)) + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    routed = [json.loads(line) for line in done.stdout.splitlines()]
    names = [{d["trailARN"].rsplit("/", 1)[1] for d in r["deliveries"]} for r in routed]
    assert names == [{"music-table"}, {"management", "music-table"}]


def test_an_unknown_resource_type_is_still_refused() -> None:
    bad = trail(
        "bad",
        AdvancedEventSelectors=[
            {
                "FieldSelectors": [
                    {"Field": "eventCategory", "Equals": ["Data"]},
                    {"Field": "resources.type", "Equals": ["AWS::DynamoDB::Item"]},
                ]
            }
        ],
    )
    with pytest.raises(TrailError, match=r"AWS::DynamoDB::Item for resources.type is invalid"):
        Trail.from_api(bad)
