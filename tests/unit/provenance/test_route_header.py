"""The signed ``recorder-route`` header: what it covers, and that it never routes a
record where its body would not go (issue 29).

A producer key may write for account A only. The router decides on the header alone
and decodes the body only for an event some trail selects; these are the forgeries a
producer (or anyone between it and the broker) could try with the header."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from recorder.events import decode, encode
from recorder.events.routing_fields import ROUTE_HEADER, route_header, routing_fields
from recorder.provenance import ProducerKey, ProducerKeys, Rejected, admit, sign
from recorder.provenance.admission import Routable, admit_fields, admit_routing
from recorder.provenance.signature import Signer, verify_routed
from recorder.routing import RoutingEngine
from recorder.routing.rule import decide, decide_all
from recorder.trails import Trail

A, B = "111111111111", "222222222222"
KEY = ProducerKey.generate("app-a-1")
KEYS = ProducerKeys.from_document(
    {
        "producers": [
            {
                "name": "app-a",
                "accounts": [A],
                "keys": [{"keyId": KEY.key_id, "secret": KEY.secret.decode()}],
            },
            {
                "name": "platform",
                "accounts": ["*"],
                "keys": [{"keyId": "platform-1", "secret": "p" * 40}],
            },
        ]
    }
)
ANY = ProducerKey("platform-1", b"p" * 40)


def record(account: str = A, source: str = "ec2.amazonaws.com", **members: Any) -> dict[str, Any]:
    r: dict[str, Any] = {
        "eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser", "accountId": account, "principalId": "AIDA"},
        "eventTime": "2026-12-01T04:00:00Z",
        "eventSource": source,
        "eventName": "RunInstances",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "10.0.0.1",
        "eventID": f"5f0e6a52-bb9c-4d26-a45a-1d9bde0f0e{account[-2:]}",
        "eventType": "AwsApiCall",
        "recipientAccountId": account,
    }
    r.update(members)
    return r


def trail(account: str, **selectors: Any) -> Trail:
    return Trail.from_api(
        {
            "Name": f"t-{account}",
            "TrailARN": f"arn:aws:cloudtrail:us-east-1:{account}:trail/t-{account}",
            "HomeRegion": "us-east-1",
            "S3BucketName": f"logs-{account}",
            "IsMultiRegionTrail": True,
            **selectors,
        }
    )


# A's trail takes everything but EC2 (so an EC2 event of A is taken by no trail);
# B's trail takes everything.
ENGINE = RoutingEngine.compile(
    [
        trail(
            A,
            AdvancedEventSelectors=[
                {
                    "FieldSelectors": [
                        {"Field": "eventCategory", "Equals": ["Management"]},
                        {"Field": "eventSource", "NotEquals": ["ec2.amazonaws.com"]},
                    ]
                }
            ],
        ),
        trail(B),
    ]
)


def forged(header_record: dict[str, Any], body: dict[str, Any], key: ProducerKey = KEY) -> Any:
    """A record whose signed route header is ``header_record``'s and body ``body``:
    what a producer holding the key could send."""
    value = bytes(encode(body))
    kafka_key = header_record["recipientAccountId"].encode()
    headers = Signer(key).headers(kafka_key, value, route_header(header_record))
    return headers, kafka_key, value


def test_an_encoded_value_carries_its_header_and_the_signature_covers_it() -> None:
    r = record()
    value = encode(r)
    headers = sign(KEY, A.encode(), value)
    assert [name for name, _ in headers] == ["recorder-key-id", ROUTE_HEADER, "recorder-signature"]
    assert orjson.loads(dict(headers)[ROUTE_HEADER]) == routing_fields(decode(value))
    producer, key_id, route = verify_routed(KEYS, headers, A.encode(), value)
    assert (producer.name, key_id, route) == ("app-a", "app-a-1", value.route)
    # a plain copy of the bytes has no header: signed without one, still admitted whole
    plain = bytes(value)
    assert [name for name, _ in sign(KEY, A.encode(), plain)] == [
        "recorder-key-id",
        "recorder-signature",
    ]
    assert admit(KEYS, sign(KEY, A.encode(), plain), A.encode(), plain).record["eventID"]


@pytest.mark.parametrize("change", ["altered", "dropped", "added"])
def test_a_route_header_not_signed_with_the_record_is_refused(change: str) -> None:
    value = encode(record())
    headers = dict(sign(KEY, A.encode(), value))
    if change == "altered":  # someone between producer and broker re-routes it
        headers[ROUTE_HEADER] = route_header(record(source="iam.amazonaws.com"))
    elif change == "dropped":  # v2 signature without its header: not a v1 signature
        del headers[ROUTE_HEADER]
    else:  # a header added to a record signed without one
        headers = dict(sign(KEY, A.encode(), bytes(value)))
        headers[ROUTE_HEADER] = value.route
    with pytest.raises(Rejected) as info:
        admit_routing(KEYS, list(headers.items()), A.encode(), value)
    assert info.value.kind == "bad_signature"


def test_header_says_account_a_source_x_body_says_b_source_y() -> None:
    """The platform key may write for any account: the header routes to A's trail
    (an IAM event of A), the body is an S3 event of B. Refused when decoded, never
    delivered to anyone."""
    header, body = record(A, "iam.amazonaws.com"), record(B, "s3.amazonaws.com")
    headers, kafka_key, value = forged(header, body, ANY)
    routable = admit_routing(KEYS, headers, kafka_key, value)
    with pytest.raises(Rejected) as info:
        decide(ENGINE, routable)
    assert info.value.kind == "route_mismatch"
    assert str(info.value) == (
        "producer key platform-1 (producer platform): the recorder-route header does not "
        "match the record it signs (eventSource)"
    )
    assert routable.record is None  # nothing of the body was admitted


def test_a_header_that_routes_nowhere_never_delivers_its_body() -> None:
    """Header: an EC2 event of A (no trail selects it). Body: an event of B that B's
    trail would take. It reaches no trail: neither A's nor B's."""
    headers, kafka_key, value = forged(record(A), record(B, "iam.amazonaws.com"), ANY)
    routable = admit_routing(KEYS, headers, kafka_key, value)
    assert decide(ENGINE, routable) == []
    assert routable.record is None  # never decoded


def test_a_header_naming_another_account_is_refused_before_routing() -> None:
    """A's key: a header naming B (as recipient, identity owner or resource owner) is
    refused whatever the body says, with the body's reason when the body says the same."""
    honest_b = record(B)
    value = encode(honest_b)
    with pytest.raises(Rejected) as info:
        admit_routing(KEYS, sign(KEY, B.encode(), value), B.encode(), value)
    assert (info.value.kind, str(info.value)) == (
        "account_not_allowed",
        f"producer key app-a-1 (producer app-a) may not write for account {B} (recipientAccountId)",
    )
    # header names B as a resource owner, body is A's own event: a mismatch
    header = record(A, resources=[{"accountId": B, "type": "AWS::S3::Bucket", "ARN": "arn:b"}])
    headers, kafka_key, value = forged(header, record(A))
    with pytest.raises(Rejected) as info:
        admit_routing(KEYS, headers, kafka_key, value)
    assert (info.value.kind, info.value.key_id) == ("route_mismatch", "app-a-1")
    # header is A's own event, body names B: refused when a trail selects it
    body = record(A, "iam.amazonaws.com", userIdentity={"type": "IAMUser", "accountId": B})
    headers, kafka_key, value = forged(record(A, "iam.amazonaws.com"), body)
    with pytest.raises(Rejected) as info:
        decide(ENGINE, admit_routing(KEYS, headers, kafka_key, value))
    assert info.value.kind == "route_mismatch"


def test_a_header_that_is_not_json_or_not_an_object_is_undecodable() -> None:
    value = bytes(encode(record()))
    for bad, message in ((b"{", "not JSON"), (b"[1]", "expected a JSON object")):
        headers = Signer(KEY).headers(A.encode(), value, bad)
        with pytest.raises(ValueError, match=message):
            admit_routing(KEYS, headers, A.encode(), value)


def test_an_honest_record_is_admitted_once_and_routed_as_its_body() -> None:
    r = record(A, "iam.amazonaws.com")
    value = encode(r)
    routable = admit_routing(KEYS, sign(KEY, A.encode(), value), A.encode(), value)
    assert routable.record is None
    [d] = decide(ENGINE, routable)
    assert (d.account_id, d.region) == (A, "us-east-1")
    assert routable.record is not None and routable.record["eventID"] == r["eventID"]
    assert routable.record["readOnly"] is False  # classified as admission does


def test_a_bad_body_is_refused_for_its_own_reason_when_its_fields_are() -> None:
    """A record missing what routing needs is refused as the body names it, with or
    without a header (so a producer's fault reads the same either way)."""
    r = record(A, "iam.amazonaws.com")
    del r["eventName"]
    value = encode(r)
    reasons = []
    for v in (value, bytes(value)):
        with pytest.raises(ValueError) as info:
            admit_routing(KEYS, sign(KEY, A.encode(), v), A.encode(), v)
        reasons.append(str(info.value))
    assert (
        reasons[0]
        == reasons[1]
        == "eventName: required in API, console and service events, but absent"
    )


def test_recorder_route_lines_follow_the_same_rule() -> None:
    """A record given whole: routed by its fields, admitted when selected."""
    taken = Routable.of_record(record(A, "iam.amazonaws.com", sourceIPAddress=None))
    admit_fields(taken)
    with pytest.raises(ValueError, match="sourceIPAddress"):
        decide(ENGINE, taken)
    untaken = Routable.of_record(record(A, sourceIPAddress=None))
    admit_fields(untaken)
    assert decide(ENGINE, untaken) == []


def test_a_batch_is_decided_as_each_record_alone() -> None:
    """The router decides a consumed batch step by step (every record routed, then
    every selected body admitted): each answer is the one ``decide`` gives that record,
    a refusal stays with its own record, and an unselected body is never decoded."""
    iam = "iam.amazonaws.com"
    bad_body = record(A, iam, sourceIPAddress=None)
    records = [
        forged(record(A, iam), record(A, iam)),  # taken by A's trail
        forged(record(A), record(B, iam), ANY),  # its header routes nowhere
        forged(record(A, iam), record(B, "s3.amazonaws.com"), ANY),  # header != body
        forged(bad_body, bad_body),  # selected; the guide's rules refuse the body
        forged(record(A, iam, resources="x"), record(A, iam)),  # unroutable header
        forged(record(B), record(B), ANY),  # taken by B's trail
    ]

    def shown(decision: object) -> object:
        if isinstance(decision, Exception):
            return type(decision).__name__, getattr(decision, "kind", None), str(decision)
        return [(d.trail_arn, d.account_id) for d in decision]  # type: ignore[attr-defined]

    batch = [admit_routing(KEYS, *r) for r in records]
    decisions = [shown(d) for d in decide_all(ENGINE, batch, [None] * len(batch))]
    mismatch = "producer key {} (producer {}): the recorder-route header does not match "
    assert decisions == [
        [(f"arn:aws:cloudtrail:us-east-1:{A}:trail/t-{A}", A)],
        [],
        (
            "Rejected",
            "route_mismatch",
            mismatch.format("platform-1", "platform") + "the record it signs (eventSource)",
        ),
        (
            "InvalidEventError",
            None,
            "sourceIPAddress: required in API, console and service events, but null",
        ),
        (
            "Rejected",
            "route_mismatch",
            mismatch.format("app-a-1", "app-a") + "the record it signs (resources)",
        ),
        [(f"arn:aws:cloudtrail:us-east-1:{B}:trail/t-{B}", B)],
    ]
    assert [r.record is not None for r in batch] == [True, False, False, False, False, True]
    alone = []
    for r in records:
        try:
            alone.append(shown(decide(ENGINE, admit_routing(KEYS, *r))))
        except ValueError as exc:
            alone.append(shown(exc))
    assert alone == decisions
