"""Every operation of 25 widely used services, through the real hook, as the router sees it.

For each operation botocore's model defines, a real boto3 client with the hook
installed is called with parameters generated from the input shape and answered by
``Stubber`` with a response generated from the output shape (a client error for one
operation in eight, so failed calls are covered too). Each record then goes where the
router takes it: Avro encode and decode, the router's validation, the real routing
engine over a set of trails. Nothing may be dead-lettered, and each record must be
classified as the guide says:

* ``readOnly``: true for Get/List/Describe/Head calls (guide line 4620: read-only
  events "read your resources but don't make changes"), and ``responseElements`` null
  for read-only calls (line 11542) except where the conventions table says a service
  writes them (STS's issued credentials);
* names as CloudTrail writes them: the conventions table's event source and legacy
  or versioned event names (S3 ``PutBucketLifecycle``, Lambda
  ``UpdateFunctionConfiguration20150331v2``), never botocore's endpoint prefix;
* management vs data: S3 object-level operations (line 4738), Lambda ``Invoke``
  (line 4739) and the item-level calls of the other data event sources in the
  conventions table (DynamoDB, ...) are data events, everything else a management
  event; a data event only reaches a trail that selects its resource type;
* global services are delivered once, in us-east-1 (line 511);
* KMS is a management event source that a trail's selectors can exclude (line 4660).

The count of operations covered is printed (``-s``) and asserted to stay above 2,500.
"""

from __future__ import annotations

import random
import zlib
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.stub import Stubber

from recorder.events import conventions as cv
from recorder.events import decode, encode, validate_record
from recorder.events.regions import is_global_service_event
from recorder.producer import Identity, install
from recorder.provenance.admission import require_routable
from recorder.routing.engine import RoutingEngine
from recorder.trails.model import Trail
from tests.unit.producer.helpers import RenderingSink
from tests.unit.producer.model_values import value_for

SERVICES = (
    "s3", "ec2", "iam", "sts", "lambda", "kms", "dynamodb", "sqs", "sns", "cloudformation",
    "cloudwatch", "logs", "ecr", "ecs", "eks", "rds", "route53", "cloudfront", "organizations",
    "secretsmanager", "ssm", "stepfunctions", "kinesis", "glue", "cloudtrail",
)  # fmt: skip
ACCOUNT = "111122223333"
REGION = "eu-west-1"
ALICE = Identity(account_id=ACCOUNT, access_key_id="AKIAIOSFODNN7EXAMPLE", user_name="Alice")


def _trail(name: str, region: str = REGION, **extra: Any) -> Trail:
    return Trail.from_api(
        {
            "Name": name,
            "TrailARN": f"arn:aws:cloudtrail:{region}:{ACCOUNT}:trail/{name}",
            "HomeRegion": region,
            "S3BucketName": "trail-logs",
            "IsMultiRegionTrail": True,
            "IncludeGlobalServiceEvents": True,
            **extra,
        }
    )


MANAGEMENT = _trail("management")
NO_KMS = _trail(
    "no-kms",
    EventSelectors=[
        {
            "ReadWriteType": "All",
            "IncludeManagementEvents": True,
            "ExcludeManagementEventSources": ["kms.amazonaws.com"],
        }
    ],
)
DATA = _trail(
    "data",
    EventSelectors=[
        {
            "ReadWriteType": "All",
            "IncludeManagementEvents": False,
            "DataResources": [
                {"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]},
                {"Type": "AWS::Lambda::Function", "Values": ["arn:aws:lambda"]},
            ],
        }
    ],
)
ADVANCED_NO_KMS = _trail(
    "advanced-no-kms",
    AdvancedEventSelectors=[
        {
            "Name": "Management events without KMS",
            "FieldSelectors": [
                {"Field": "eventCategory", "Equals": ["Management"]},
                {"Field": "eventSource", "NotEquals": ["kms.amazonaws.com"]},
            ],
        }
    ],
)
ENGINE = RoutingEngine.compile([MANAGEMENT, NO_KMS, ADVANCED_NO_KMS, DATA])

_READ_PREFIXES = ("Get", "List", "Describe", "Head")
_WRITE_PREFIXES = ("Create", "Delete", "Put", "Update", "Start", "Stop", "Attach", "Detach")


def _operations(service: str) -> list[str]:
    return list(botocore.session.get_session().get_service_model(service).operation_names)


def _drive(service: str) -> tuple[list[dict[str, Any]], set[str]]:
    """Call every operation of ``service`` once through the hooked client."""
    session = boto3.Session(
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key="x", region_name=REGION
    )
    client = session.client(service)
    sink = RenderingSink()
    install(client, sink, identity=ALICE)
    model = client.meta.service_model
    failures: set[str] = set()
    methods = {api: py for py, api in client.meta.method_to_api_mapping.items()}
    with Stubber(client) as stub:
        for name in model.operation_names:
            op = model.operation_model(name)
            rng = random.Random(zlib.crc32(f"{service}.{name}".encode()))
            params = value_for(op.input_shape, rng) if op.input_shape is not None else {}
            failed = rng.random() < 0.125
            if failed:
                failures.add(name)
                stub.add_client_error(
                    methods[name],
                    service_error_code="AccessDenied",
                    service_message="denied",
                    http_status_code=403,
                )
            else:
                response = value_for(op.output_shape, rng, request=False) if op.output_shape else {}
                stub.add_response(methods[name], response)
            method = getattr(client, methods[name])
            try:
                method(**params)
            except client.exceptions.ClientError:
                assert failed, f"{service}.{name}: unexpected client error"
    return sink.records(), failures


def _route_like_the_router(record: dict[str, Any]) -> list[Any]:
    wire = decode(encode(record))
    validate_record(wire)
    require_routable(wire)
    return ENGINE.route(wire)


@pytest.mark.parametrize("service", SERVICES)
def test_every_operation_is_recorded_valid_routed_and_classified(service: str) -> None:
    records, failures = _drive(service)
    operations = _operations(service)
    model = botocore.session.get_session().get_service_model(service)
    source = cv.event_source_for(service, model.signing_name, model.endpoint_prefix)
    # records come in the order the operations were called; a refused call keeps the
    # action's name where the service logs it so (Lambda)
    assert [r["eventName"] for r in records] == [
        cv.denied_event_name(source, "AccessDenied", op, cv.event_name_for(service, op))
        if op in failures
        else cv.event_name_for(service, op)
        for op in operations
    ]
    for op, record in zip(operations, records, strict=True):
        name = record["eventName"]
        where = f"{service}.{op}"
        assert record["eventSource"] == source, where
        deliveries = _route_like_the_router(record)
        if op in failures:
            assert record["errorCode"] == "AccessDenied", where
            assert record["errorMessage"] == "denied", where
            assert record["responseElements"] is None, where
        else:
            assert "errorCode" not in record, where
        trails = {d.trail_arn.rsplit("/", 1)[1] for d in deliveries}
        data = cv.is_data_event(source, name)
        assert record["eventCategory"] == ("Data" if data else "Management"), where
        assert record["managementEvent"] is (not data), where
        if name.startswith(_READ_PREFIXES):
            assert record["readOnly"] is True, where
        if name.startswith(_WRITE_PREFIXES):
            assert record["readOnly"] is False, where
        if record["readOnly"] and not cv.logs_read_response(source, name):
            assert record["responseElements"] is None, where
        if data:
            rtype = cv.DATA_RESOURCE_TYPES[source].value
            selected = rtype in ("AWS::S3::Object", "AWS::Lambda::Function")
            # a generated transaction may name no table; S3 and Lambda calls always do
            if selected or "resources" in record:
                assert any(r["type"] == rtype for r in record["resources"]), where
            assert trails == ({"data"} if selected else set()), where
        elif service == "kms":
            assert trails == {"management"}, where  # both no-kms trails exclude it
        else:
            assert trails == {"management", "no-kms", "advanced-no-kms"}, where
        if service in ("iam", "cloudfront", "route53", "organizations"):
            assert record["awsRegion"] == "us-east-1" and is_global_service_event(record), where
            assert {d.region for d in deliveries} == {"us-east-1"}, where
        elif service != "sts":
            assert record["awsRegion"] == REGION, where


def test_operations_covered() -> None:
    total = sum(len(_operations(s)) for s in SERVICES)
    print(f"\ngenerative hook test: {len(SERVICES)} services, {total} operations")
    assert len(SERVICES) >= 25
    assert total > 2500
