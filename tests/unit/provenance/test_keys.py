"""The producers file, the signature over a record's bytes, and who may write for whom."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from recorder.events import encode
from recorder.provenance import ProducerKey, ProducerKeys, Rejected, admit, sign
from recorder.provenance.admission import admit_record
from recorder.provenance.keys import WatchedProducerKeys
from recorder.provenance.signature import Signer, verify

A, B = "111111111111", "222222222222"
OLD, NEW = ProducerKey.generate("app-a-1"), ProducerKey.generate("app-a-2")


def doc(**overrides: Any) -> dict[str, Any]:
    producer = {
        "name": "app-a",
        "accounts": [A],
        "keys": [{"keyId": k.key_id, "secret": k.secret.decode()} for k in (OLD, NEW)],
    }
    producer.update(overrides)
    return {"producers": [producer]}


KEYS = ProducerKeys.from_document(doc())


def record(account: str = A, **members: Any) -> dict[str, Any]:
    r: dict[str, Any] = {
        "eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser", "accountId": account, "principalId": "AIDA"},
        "eventTime": "2026-12-01T04:00:00Z",
        "eventSource": "s3.amazonaws.com",
        "eventName": "GetObject",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "10.0.0.1",
        "eventID": "5f0e6a52-bb9c-4d26-a45a-1d9bde0f0e31",
        "eventType": "AwsApiCall",
        "recipientAccountId": account,
        "resources": [
            {"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::b/k"},
            {"accountId": account, "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::b"},
        ],
    }
    r.update(members)
    return r


def refused(key: bytes, value: bytes, headers: Any) -> Rejected:
    with pytest.raises(Rejected) as info:
        admit(KEYS, headers, key, value)
    return info.value


def test_both_keys_of_a_rotation_are_accepted_and_name_themselves() -> None:
    value = encode(record())
    for k in (OLD, NEW):
        admitted = admit(KEYS, sign(k, A.encode(), value), A.encode(), value)
        assert (admitted.key_id, admitted.producer.name) == (k.key_id, "app-a")
        assert admitted.record["eventName"] == "GetObject"
    assert Signer(NEW).headers(A.encode(), value) == sign(NEW, A.encode(), value)


def test_each_refusal_names_the_key_and_never_the_secret() -> None:
    value = encode(record())
    headers = sign(NEW, A.encode(), value)
    cases = {
        "unsigned": refused(A.encode(), value, []),
        "bad_signature": refused(A.encode(), value + b"x", headers),
        "rekeyed": refused(B.encode(), value, headers),  # the key is signed too
        "unknown_key": refused(A.encode(), value, sign(ProducerKey.generate("x-9"), b"", b"")),
    }
    assert (cases["unsigned"].kind, cases["unsigned"].key_id) == ("unsigned", None)
    assert str(cases["bad_signature"]) == (
        "the signature does not match the record for producer key app-a-2 (producer app-a)"
    )
    assert cases["rekeyed"].kind == "bad_signature"
    assert (cases["unknown_key"].kind, str(cases["unknown_key"])) == (
        "unknown_key",
        "producer key 'x-9' is not known",
    )
    for exc in cases.values():
        assert NEW.secret.decode() not in str(exc)


def test_a_revoked_key_is_refused_as_revoked() -> None:
    keys = ProducerKeys.from_document(
        doc(keys=[{"keyId": "app-a-2", "secret": NEW.secret.decode()}], revokedKeyIds=["app-a-1"])
    )
    value = encode(record())
    with pytest.raises(Rejected) as info:
        admit(keys, sign(OLD, A.encode(), value), A.encode(), value)
    assert (info.value.kind, info.value.key_id) == ("revoked_key", "app-a-1")
    assert str(info.value) == "producer key app-a-1 (producer app-a) is revoked"


@pytest.mark.parametrize(
    ("forged", "member"),
    [
        (record(B), "recipientAccountId"),
        (record(A, userIdentity={"type": "IAMUser", "accountId": B}), "userIdentity.accountId"),
        (
            record(A, resources=[{"accountId": B, "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::b"}]),
            "resources[0].accountId",
        ),
    ],
)  # fmt: skip
def test_every_account_a_record_names_must_be_the_keys(forged: dict[str, Any], member: str) -> None:
    value = encode(forged)
    key = forged["recipientAccountId"].encode()
    exc = refused(key, value, sign(NEW, key, value))
    assert exc.kind == "account_not_allowed"
    assert str(exc) == (
        f"producer key app-a-2 (producer app-a) may not write for account {B} ({member})"
    )


def test_the_kafka_key_must_be_the_recipient() -> None:
    value = encode(record(A))
    exc = refused(B.encode(), value, sign(NEW, B.encode(), value))
    assert exc.kind == "key_mismatch"


def test_any_account_producer_and_the_checks_after_it() -> None:
    keys = ProducerKeys.from_document(doc(accounts=["*"]))
    value = encode(record(B))
    assert (
        admit(keys, sign(NEW, B.encode(), value), B.encode(), value).record["recipientAccountId"]
        == B
    )
    # without a producer (recorder route without --key-id) no account is checked, and
    # what routing needs is still required
    admit_record(record(B))
    with pytest.raises(ValueError, match="eventSource"):
        admit_record(record(A, eventSource=""))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"accounts": ["12345"]}, "is not a 12-digit account id"),
        ({"accounts": []}, "accounts must list"),
        (
            {"keys": [{"keyId": f"k{i}", "secret": "s" * 40} for i in range(3)]},
            "a producer holds at most 2",
        ),
        ({"keys": [{"keyId": "k", "secret": "short"}]}, "at least 32 bytes"),
        ({"keys": [{"keyId": "bad id", "secret": "s" * 40}]}, "must be 1-64 of"),
        ({"revokedKeyIds": ["app-a-2"]}, "key app-a-2 is revoked"),
    ],
)
def test_a_bad_producers_file_names_what_is_wrong(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ProducerKeys.from_document(doc(**change), source="p.json")


def test_the_file_is_read_again_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "producers.json"
    path.write_bytes(orjson.dumps(doc()))
    watched = WatchedProducerKeys(path, interval=0)
    assert watched.current().key_ids == {"app-a-1", "app-a-2"}
    path.write_bytes(orjson.dumps(doc(keys=[{"keyId": "app-a-3", "secret": "z" * 40}])))
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert watched.current().key_ids == {"app-a-3"}
    path.write_text("{not json")  # a broken edit keeps the last good keys
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 2 * 10**9))
    assert watched.current().key_ids == {"app-a-3"}


def test_verify_reads_no_more_than_the_headers_and_bytes() -> None:
    value = b"not even avro"
    producer, key_id = verify(KEYS, sign(OLD, A.encode(), value), A.encode(), value)
    assert (producer.name, key_id) == ("app-a", "app-a-1")
