"""No tenant can write into another's trail (issue 25, item 1).

Producer ``app-a`` may write for account A only; its key ``app-a-2`` is current and
``app-a-1`` was revoked. Through real hooked boto3 clients and a real router and
writer it sends A's honest calls and five forgeries: (a) a record for account B,
(b) A's S3 call naming B as the bucket owner (``ExpectedBucketOwner=B``), (c) a
record without a signature, (d) a record signed with the revoked key, (e) a record
whose signature does not match its bytes. Two more, signed with the current key, have
a route header (the routing fields the router decides on, issue 29) that is not their
body's: (f) the header is A's own ListBuckets call, the body B's IAM call; (g) the
header is an A call no trail selects, the body a call B's trail would take. B's trail
receives none of them; (a)-(f) are dead-lettered with a reason naming the key (never
a secret) and counted per key, (g) is never decoded and reaches no trail; A's
honest records are delivered once. An honest call of A on a bucket B's trail logs to
(B owns it: it is B's trail's own bucket) reaches B too, as in CloudTrail, with the
owner taken from the trails, not from the record.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest
from botocore.exceptions import ClientError

from recorder.events import decode, encode
from recorder.events.routing_fields import route_header
from recorder.kafka import clients
from recorder.producer import Identity, KafkaEventSink, install
from recorder.provenance import ProducerKey
from recorder.provenance.signature import Signer
from recorder.stack.local import LocalStack
from tests.integration.helpers import (
    RecorderProcess,
    aws,
    cloudtrail_bucket,
    read_log_files,
    wait_until,
    write_trails,
)
from tests.unit.producer.helpers import RenderingSink

pytestmark = pytest.mark.integration

A, B = "111111111111", "222222222222"
CURRENT = ProducerKey.generate("app-a-2")
REVOKED = ProducerKey.generate("app-a-1")


def _trail(account: str, name: str, bucket: str) -> dict[str, Any]:
    return {
        "Name": name,
        "TrailARN": f"arn:aws:cloudtrail:us-east-1:{account}:trail/{name}",
        "HomeRegion": "us-east-1",
        "S3BucketName": bucket,
        "IsMultiRegionTrail": True,
        "IncludeGlobalServiceEvents": True,
        "EventSelectors": [
            {
                "ReadWriteType": "All",
                "IncludeManagementEvents": True,
                "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]}],
            }
        ],
    }


@dataclass
class Env:
    stack: LocalStack
    recorder: RecorderProcess
    work: Path


@pytest.fixture(scope="module")
def env(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    work = tmp_path_factory.mktemp("producers")
    s3 = aws(stack, "s3")
    for bucket in ("a-logs", "b-logs"):
        cloudtrail_bucket(s3, bucket)
    s3.create_bucket(Bucket="a-data")
    producers = work / "producers.json"
    producers.write_text(
        json.dumps(
            {
                "producers": [
                    {
                        "name": "app-a",
                        "accounts": [A],
                        "keys": [{"keyId": CURRENT.key_id, "secret": CURRENT.secret.decode()}],
                        "revokedKeyIds": [REVOKED.key_id],
                    }
                ]
            }
        )
    )
    trails = write_trails(
        work / "trails.json", [_trail(A, "a-trail", "a-logs"), _trail(B, "b-trail", "b-logs")]
    )
    proc = RecorderProcess(
        stack,
        ["router", "writer"],
        work,
        env={
            "RECORDER_PRODUCERS_FILE": str(producers),
            "RECORDER_TRAILS_FILE": str(trails),
            "RECORDER_CUT_INTERVAL": "1",
        },
    ).start()
    try:
        yield Env(stack, proc, work)
    finally:
        proc.stop()


def _s3(stack: LocalStack, sink: Any, account: str, seen: list[dict[str, Any]]) -> Any:
    """A boto3 S3 client of ``account`` whose calls go through ``sink``."""
    session = boto3.Session(
        region_name="us-east-1", aws_access_key_id=f"AKIA{account}", aws_secret_access_key="x"
    )
    inst = install(session, sink, identity=Identity(account_id=account, user_name="app"))
    inst.on_record = seen.append
    return session.client("s3", endpoint_url=stack.aws_endpoint_url)


def _dead_letters(stack: LocalStack) -> dict[str, dict[str, Any]]:
    """eventID -> dead-letter entry, of the router's refusals."""

    async def read() -> dict[str, dict[str, Any]]:
        consumer = clients.consumer(stack.settings(), "api-events-dlq", group_id=None)
        await consumer.start()
        out: dict[str, dict[str, Any]] = {}
        try:
            while batch := await consumer.getmany(timeout_ms=1000):
                for messages in batch.values():
                    for m in messages:
                        entry = orjson.loads(m.value)
                        value = base64.b64decode(entry["valueBase64"])
                        with contextlib.suppress(ValueError):
                            out[decode(value)["eventID"]] = entry
        finally:
            await consumer.stop()
        return out

    return asyncio.run(read())


def _rejected(recorder: RecorderProcess) -> dict[tuple[str, str], float]:
    out = {}
    for line in recorder.metrics().splitlines():
        m = re.match(r"recorder_rejected_records_total\{(.*)\} (\S+)$", line)
        if m:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
            out[(labels["key_id"], labels["reason"])] = float(m.group(2))
    return out


def _event_ids(stack: LocalStack, bucket: str) -> list[str]:
    return [r["eventID"] for rs in read_log_files(stack, bucket).values() for r in rs]


def test_no_producer_writes_into_another_accounts_trail(env: Env) -> None:
    stack = env.stack
    honest: list[dict[str, Any]] = []
    forged: dict[str, list[dict[str, Any]]] = {k: [] for k in "abcdefg"}
    sink = KafkaEventSink(stack.bootstrap_servers, key=CURRENT, journal_dir=env.work / "j-a")
    a = _s3(stack, sink, A, honest)
    a.list_buckets()
    a.put_object(Bucket="a-data", Key="report.csv", Body=b"1,2")
    a.put_object(Bucket="b-logs", Key="from-a.txt", Body=b"x")  # B's trail's own bucket
    # (a) the same producer, a client that says it is account B
    _s3(stack, sink, B, forged["a"]).list_buckets()
    # (b) A's call naming B as the bucket owner: the record names B as a resource owner
    with pytest.raises(ClientError):
        a.get_object(Bucket="a-data", Key="missing", ExpectedBucketOwner=B)
    assert sink.flush(30)
    sink.close()
    forged["b"] = [r for r in honest if r["eventName"] == "GetObject"]  # rendered by now
    honest[:] = [r for r in honest if r["eventName"] != "GetObject"]
    # (c) A's honest call, sent without a signature
    rendering = RenderingSink()
    _s3(stack, rendering, A, forged["c"]).list_buckets()
    rendering.records()
    [(key, value)] = rendering.encoded
    value = bytes(value)  # (c) is sent bare: no signature, no route header
    # (f), (g): signed with the current key, a route header that is not the body's
    [listing] = forged["c"]
    invoke = {
        **listing,
        "eventID": str(uuid.uuid4()),
        "eventSource": "lambda.amazonaws.com",
        "eventName": "Invoke",
        "eventCategory": "Data",
        "managementEvent": False,
    }  # a data event A's trail does not select
    as_b = {
        "recipientAccountId": B,
        "userIdentity": {**listing["userIdentity"], "accountId": B},
        "eventSource": "iam.amazonaws.com",
        "eventName": "CreateUser",
        "readOnly": False,
    }
    forged["f"] = [{**listing, **as_b, "eventID": str(uuid.uuid4())}]
    forged["g"] = [{**listing, **as_b, "eventID": str(uuid.uuid4())}]
    rerouted = [(listing, forged["f"][0]), (invoke, forged["g"][0])]

    async def unsigned() -> None:
        producer = clients.producer(stack.settings())
        await producer.start()
        try:
            await producer.send_and_wait("api-events", value, key=key)
            signer = Signer(CURRENT)
            for header, body in rerouted:
                v = bytes(encode(body))
                headers = signer.headers(key, v, route_header(header))
                await producer.send_and_wait("api-events", v, key=key, headers=headers)
        finally:
            await producer.stop()

    asyncio.run(unsigned())
    # (d) signed with the revoked key; (e) the current key id with a secret that is not its
    for name, key_used in (("d", REVOKED), ("e", ProducerKey.generate(CURRENT.key_id))):
        other = KafkaEventSink(stack.bootstrap_servers, key=key_used, journal_dir=env.work / name)
        _s3(stack, other, A, forged[name]).list_buckets()
        assert other.flush(30)
        other.close()

    nowhere = forged.pop("g")[0]["eventID"]
    wanted = {r["eventID"]: name for name, rs in forged.items() for r in rs}
    assert len(wanted) == 6
    letters = wait_until(
        lambda: (d := _dead_letters(stack)).keys() >= wanted.keys() and d,
        90,
        message="every forgery dead-lettered",
    )
    reasons = {wanted[e]: letters[e]["reason"] for e in wanted}
    assert reasons == {
        "a": f"producer key app-a-2 (producer app-a) may not write for account {B} "
        "(recipientAccountId)",
        "b": f"producer key app-a-2 (producer app-a) may not write for account {B} "
        "(resources[1].accountId)",
        "c": "unsigned record: no recorder-key-id and recorder-signature headers",
        "d": "producer key app-a-1 (producer app-a) is revoked",
        "e": "the signature does not match the record for producer key app-a-2 (producer app-a)",
        "f": "producer key app-a-2 (producer app-a): the recorder-route header does not match "
        "the record it signs (eventSource)",
    }
    for letter in letters.values():
        assert CURRENT.secret.decode() not in json.dumps(letter)
    counts = wait_until(lambda: (c := _rejected(env.recorder)) and c, 10, message="counters")
    assert counts == {
        ("app-a-2", "account_not_allowed"): 2,
        ("-", "unsigned"): 1,
        ("app-a-1", "revoked_key"): 1,
        ("app-a-2", "bad_signature"): 1,
        ("app-a-2", "route_mismatch"): 1,
    }

    # A's honest records: delivered to A's trail once; B's trail has only A's call on
    # B's own bucket (CloudTrail's cross-account rule), none of the forgeries.
    into_b = next(r for r in honest if (r["requestParameters"] or {}).get("bucketName") == "b-logs")
    expected_a = sorted(r["eventID"] for r in honest)
    wait_until(
        lambda: sorted(_event_ids(stack, "a-logs")) == expected_a,
        60,
        message="A's honest records in A's trail",
    )
    in_b = wait_until(lambda: _event_ids(stack, "b-logs"), 30, message="B's copy of A's call")
    assert len(in_b) == 1 and in_b[0] != into_b["eventID"]  # B's copy has its own eventID
    [b_copy] = [r for rs in read_log_files(stack, "b-logs").values() for r in rs]
    assert (b_copy["eventName"], b_copy["recipientAccountId"]) == ("PutObject", B)
    assert b_copy["sharedEventID"] and b_copy["userIdentity"]["accountId"] == A
    assert not set(wanted) & set(_event_ids(stack, "b-logs"))
    assert sorted(_event_ids(stack, "a-logs")) == expected_a  # once each
    # (g): routed by its header to no trail, so never decoded: in no bucket, no letter
    assert nowhere not in _event_ids(stack, "b-logs") + _event_ids(stack, "a-logs")
    assert nowhere not in _dead_letters(stack)
