"""CloudTrail Data's PutAuditEvents and the Custom channels it needs, in-process through
real boto3 ``cloudtrail`` and ``cloudtrail-data`` clients: the shapes and errors of
botocore's models, AWS's limits (100 events, 1 MB, the checksum), and each event as a
record of the caller's account whatever its eventData claims."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import boto3
import pytest
from aiohttp import web
from botocore.config import Config
from botocore.exceptions import ClientError

from recorder.api import ingest
from recorder.api.auth import CredentialStore
from recorder.api.data_plane import AuditEventsIngest
from recorder.api.operations import Operations
from recorder.api.service import Api, ApiMetrics
from recorder.api.store import MemoryStore
from recorder.events import decode
from recorder.obs.metrics import Metrics
from recorder.stack.processes import free_port
from tests.unit.api.doubles import FakeChecks

A, B = "111111111111", "222222222222"
CREDS = CredentialStore.from_document(
    {
        "credentials": [
            {"AccessKeyId": "AKA", "SecretAccessKey": "sa", "AccountId": A},
            {"AccessKeyId": "AKB", "SecretAccessKey": "sb", "AccountId": B},
            {
                "AccessKeyId": "AKR",
                "SecretAccessKey": "sr",
                "AccountId": A,
                "UserName": "reader",
                "Actions": ["Describe*", "Get*", "List*"],
            },
        ]
    }
)
CONFIG = Config(retries={"total_max_attempts": 1, "mode": "standard"})


class Server:
    def __init__(self, port: int, sent: list[tuple[str, bytes]]) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.sent = sent
        self.fail_sends = False
        self.metrics: ApiMetrics | None = None

    def ingested(self, outcome: str) -> float:
        assert self.metrics is not None
        return float(self.metrics.ingested.labels(outcome=outcome)._value.get())

    def client(self, service: str, key: str = "AKA", secret: str = "sa") -> Any:
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name="us-east-2",
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            config=CONFIG,
        )

    def records(self) -> list[dict[str, Any]]:
        return [decode(value) for _, value in self.sent]


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    store = MemoryStore()
    sent: list[tuple[str, bytes]] = []
    srv: Server

    async def send(account: str, value: bytes, record: Any) -> None:
        if srv.fail_sends:
            raise TimeoutError("broker away")
        sent.append((account, value))

    metrics = ApiMetrics.on(Metrics())
    data = AuditEventsIngest(store, send, metrics.ingested)
    ops = Operations(store=store, checks=FakeChecks(), ingestion=data.status)
    api = Api(ops, CREDS, metrics, ingest=data)
    runner = web.AppRunner(api.app())
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    srv = Server(port, sent)
    srv.metrics = metrics
    try:
        yield srv
    finally:
        await runner.cleanup()


def run(fn: Any, *args: Any, **kwargs: Any) -> Any:
    return asyncio.to_thread(fn, *args, **kwargs)


def event_data(n: int = 0, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "version": "1.0",
        "userIdentity": {"type": "CustomUser", "principalId": "alice", "details": {"team": "x"}},
        "userAgent": "orders/2.1",
        "eventSource": "orders.example.com",
        "eventName": "PlaceOrder",
        "eventTime": "2026-12-06T10:00:00Z",
        "UID": f"req-{n}",
        "requestParameters": {"orderId": n},
        "responseElements": {"status": "placed"},
        "sourceIPAddress": "10.0.0.1",
        "recipientAccountId": A,
        "additionalEventData": {"shard": 3},
    }
    data.update(changes)
    return data


def audit_event(n: int = 0, *, checksum: bool = True, **changes: Any) -> dict[str, Any]:
    text = json.dumps(event_data(n, **changes))
    out = {"id": f"ev-{n}", "eventData": text}
    if checksum:
        out["eventDataChecksum"] = ingest.checksum(text)
    return out


async def channel(server: Server, name: str = "orders", key: str = "AKA", sk: str = "sa") -> str:
    ct = server.client("cloudtrail", key, sk)
    made = await run(
        ct.create_channel,
        Name=name,
        Source="Custom",
        Destinations=[{"Type": "EVENT_DATA_STORE", "Location": "recorder-trails"}],
        Tags=[{"Key": "team", "Value": "orders"}],
    )
    return str(made["ChannelArn"])


async def test_channels_round_trip(server: Server) -> None:
    ct = server.client("cloudtrail")
    arn = await channel(server)
    channel_id = arn.rsplit("/", 1)[1]
    assert arn == f"arn:aws:cloudtrail:us-east-2:{A}:channel/{channel_id}"
    uuid.UUID(channel_id)
    got = await run(ct.get_channel, Channel=channel_id)  # the UUID alone, in its Region
    assert got["ChannelArn"] == arn and got["Name"] == "orders" and got["Source"] == "Custom"
    assert got["Destinations"] == [{"Type": "EVENT_DATA_STORE", "Location": "recorder-trails"}]
    listed = await run(ct.list_channels)
    assert listed["Channels"] == [{"ChannelArn": arn, "Name": "orders"}]
    with pytest.raises(ClientError) as e:
        await channel(server)
    assert e.value.response["Error"]["Code"] == "ChannelAlreadyExistsException"
    # B sees none of A's channels
    ctb = server.client("cloudtrail", "AKB", "sb")
    assert (await run(ctb.list_channels))["Channels"] == []
    with pytest.raises(ClientError) as e:
        await run(ctb.get_channel, Channel=arn)
    assert e.value.response["Error"]["Code"] == "ChannelNotFoundException"
    await run(ct.delete_channel, Channel=arn)
    assert (await run(ct.list_channels))["Channels"] == []
    with pytest.raises(ClientError) as e:
        await run(ct.delete_channel, Channel=arn)
    assert e.value.response["Error"]["Code"] == "ChannelNotFoundException"


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"Source": "SomePartner"}, "InvalidSourceException"),
        ({"Name": "a b"}, "InvalidParameterException"),
        (
            {"Destinations": [{"Type": "AWS_SERVICE", "Location": "config"}]},
            "InvalidParameterException",
        ),
    ],
)
async def test_create_channel_refusals(server: Server, changes: dict[str, Any], code: str) -> None:
    args = {
        "Name": "orders",
        "Source": "Custom",
        "Destinations": [{"Type": "EVENT_DATA_STORE", "Location": "recorder-trails"}],
        **changes,
    }
    with pytest.raises(ClientError) as e:
        await run(server.client("cloudtrail").create_channel, **args)
    assert e.value.response["Error"]["Code"] == code


async def test_get_channel_with_a_bad_arn(server: Server) -> None:
    with pytest.raises(ClientError) as e:
        await run(server.client("cloudtrail").get_channel, Channel="arn:aws:s3:::bucket")
    assert e.value.response["Error"]["Code"] == "ChannelARNInvalidException"


async def test_events_become_records_of_the_callers_account(server: Server) -> None:
    arn = await channel(server)
    data = server.client("cloudtrail-data")
    answer = await run(
        data.put_audit_events, channelArn=arn, auditEvents=[audit_event(0), audit_event(1)]
    )
    assert answer["failed"] == []
    assert [s["id"] for s in answer["successful"]] == ["ev-0", "ev-1"]
    records = server.records()
    assert [r["eventID"] for r in records] == [s["eventID"] for s in answer["successful"]]
    assert [acct for acct, _ in server.sent] == [A, A]
    first = records[0]
    assert first["recipientAccountId"] == A
    assert first["awsRegion"] == "us-east-2"
    assert first["eventCategory"] == "ActivityAuditLog" and first["eventType"] == "ActivityLog"
    assert first["eventSource"] == "orders.example.com" and first["eventName"] == "PlaceOrder"
    assert first["eventTime"] == "2026-12-06T10:00:00Z"
    assert first["requestID"] == "req-0"
    assert first["userIdentity"] == {
        "type": "CustomUser",
        "principalId": "alice",
        "details": {"team": "x"},
    }
    assert first["requestParameters"] == {"orderId": 0}
    assert first["additionalEventData"] == {"shard": 3}
    assert first["metadata"]["channelARN"] == arn
    assert first["metadata"]["eventDataVersion"] == "1.0"
    assert "readOnly" not in first and "managementEvent" not in first
    status = await run(server.client("cloudtrail").get_channel, Channel=arn)
    assert status["IngestionStatus"]["LatestIngestionSuccessEventID"] == records[1]["eventID"]


async def test_each_event_is_judged_on_its_own(server: Server) -> None:
    arn = await channel(server)
    bad_sum = audit_event(1)
    bad_sum["eventDataChecksum"] = ingest.checksum("something else")
    no_name_text = json.dumps({k: v for k, v in event_data(2).items() if k != "eventName"})
    no_name = {"id": "ev-2", "eventData": no_name_text}
    events = [
        audit_event(0),
        bad_sum,
        no_name,
        audit_event(3, recipientAccountId=B),  # claims B
        {"id": "ev-4", "eventData": "not json"},
        audit_event(5, eventSource="x" * 1025),
        audit_event(6, userIdentity={"type": "u", "principalId": "p", "accountId": B}),
        audit_event(7, checksum=False),
    ]
    answer = await run(
        server.client("cloudtrail-data").put_audit_events, channelArn=arn, auditEvents=events
    )
    failed = {f["id"]: f["errorCode"] for f in answer["failed"]}
    assert failed == {
        "ev-1": "InvalidChecksum",
        "ev-2": "FieldNotFound",
        "ev-3": "InvalidRecipient",
        "ev-4": "InvalidData",
        "ev-5": "FieldTooLong",
    }
    assert [s["id"] for s in answer["successful"]] == ["ev-0", "ev-6", "ev-7"]
    records = server.records()
    # an identity claiming B keeps only the schema's members: no account but A's
    assert records[1]["userIdentity"] == {"type": "u", "principalId": "p"}
    assert {r["recipientAccountId"] for r in records} == {A}
    counted = {c: server.ingested(c) for c in ("successful", "InvalidChecksum", "InvalidRecipient")}
    assert counted == {"successful": 3, "InvalidChecksum": 1, "InvalidRecipient": 1}


async def test_a_failed_send_is_that_events_internal_failure(server: Server) -> None:
    arn = await channel(server)
    server.fail_sends = True
    answer = await run(
        server.client("cloudtrail-data").put_audit_events,
        channelArn=arn,
        auditEvents=[audit_event()],
    )
    assert answer["successful"] == []
    assert answer["failed"][0]["errorCode"] == "InternalFailure"


async def test_call_limits(server: Server) -> None:
    arn = await channel(server)
    data = server.client("cloudtrail-data")
    with pytest.raises(ClientError) as e:
        await run(
            data.put_audit_events, channelArn=arn, auditEvents=[audit_event(n) for n in range(101)]
        )
    assert e.value.response["Error"]["Code"] == "ValidationException"
    assert "less than or equal to 100" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        await run(
            data.put_audit_events, channelArn=arn, auditEvents=[audit_event(1), audit_event(1)]
        )
    assert e.value.response["Error"]["Code"] == "DuplicatedAuditEventId"
    big = audit_event(0, requestParameters={"blob": "x" * 90_000})
    over_1_mb = [{**big, "id": f"b{n}"} for n in range(12)]
    with pytest.raises(ClientError) as e:
        await run(data.put_audit_events, channelArn=arn, auditEvents=over_1_mb)
    assert e.value.response["Error"]["Code"] == "ValidationException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert server.sent == []


async def test_channel_errors(server: Server) -> None:
    arn_b = await channel(server, "b-orders", "AKB", "sb")
    data = server.client("cloudtrail-data")
    cases = {
        arn_b: "ChannelInsufficientPermission",  # B's channel, A's call
        f"arn:aws:cloudtrail:us-east-2:{A}:channel/{uuid.uuid4()}": "ChannelNotFound",
        "arn:aws:s3:::not-a-channel": "InvalidChannelARN",
    }
    for given, code in cases.items():
        with pytest.raises(ClientError) as e:
            await run(data.put_audit_events, channelArn=given, auditEvents=[audit_event()])
        assert e.value.response["Error"]["Code"] == code, given


async def test_put_audit_events_is_its_own_action(server: Server) -> None:
    arn = await channel(server)
    reader = server.client("cloudtrail-data", "AKR", "sr")
    with pytest.raises(ClientError) as e:
        await run(reader.put_audit_events, channelArn=arn, auditEvents=[audit_event()])
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "cloudtrail-data:PutAuditEvents" in e.value.response["Error"]["Message"]
