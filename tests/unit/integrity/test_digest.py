"""The digest document: the guide's structure, field order and null rules, byte-stable."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest

from recorder.integrity import (
    DIGEST_FIELDS,
    DigestWindow,
    LogFileManifest,
    PreviousDigest,
    build_digest,
)
from recorder.trails.destination import Destination

TRAIL = "arn:aws:cloudtrail:us-east-2:111122223333:trail/t"
CHAIN = Destination(TRAIL, "111122223333", "us-east-2")
WINDOW = DigestWindow(
    dt.datetime(2015, 8, 17, 14, 1, 31, tzinfo=dt.UTC),
    dt.datetime(2015, 8, 17, 15, 1, 31, tzinfo=dt.UTC),
)
KEY = "AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/d.json.gz"
PREVIOUS = PreviousDigest("b", "AWSLogs/prev.json.gz", "97" * 32, "5088", "2015-08-17T14:01:31Z")


def log(key: str, oldest: str, newest: str, sha: str = "9b" * 32) -> LogFileManifest:
    return LogFileManifest(
        CHAIN, "b", key, sha, oldest, newest,
        "2015-08-17T14:45:00Z", 1,
    )  # fmt: skip


def test_guide_sample_structure_exactly() -> None:
    body = build_digest(
        CHAIN,
        WINDOW,
        "b",
        KEY,
        "31e8b5433410dfb61a9dc45cc65b22ff",
        PREVIOUS,
        [log("AWSLogs/l1.json.gz", "2015-08-17T14:42:27Z", "2015-08-17T14:52:27Z")],
    )
    assert body == (
        b'{"awsAccountId":"111122223333","digestStartTime":"2015-08-17T14:01:31Z",'
        b'"digestEndTime":"2015-08-17T15:01:31Z","digestS3Bucket":"b",'
        b'"digestS3Object":"AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/d.json.gz",'
        b'"digestPublicKeyFingerprint":"31e8b5433410dfb61a9dc45cc65b22ff",'
        b'"digestSignatureAlgorithm":"SHA256withRSA",'
        b'"newestEventTime":"2015-08-17T14:52:27Z","oldestEventTime":"2015-08-17T14:42:27Z",'
        b'"previousDigestS3Bucket":"b","previousDigestS3Object":"AWSLogs/prev.json.gz",'
        b'"previousDigestHashValue":"' + b"97" * 32 + b'","previousDigestHashAlgorithm":"SHA-256",'
        b'"previousDigestSignature":"5088",'
        b'"logFiles":[{"s3Bucket":"b","s3Object":"AWSLogs/l1.json.gz","hashValue":"'
        + b"9b"
        * 32
        + b'","hashAlgorithm":"SHA-256","newestEventTime":"2015-08-17T14:52:27Z",'
        b'"oldestEventTime":"2015-08-17T14:42:27Z"}]}'
    )
    assert tuple(json.loads(body)) == DIGEST_FIELDS


def test_starting_digest_has_null_previous_fields() -> None:
    doc = json.loads(build_digest(CHAIN, WINDOW, "b", KEY, "f", None, []))
    assert {k: v for k, v in doc.items() if k.startswith("previous")} == {
        "previousDigestS3Bucket": None,
        "previousDigestS3Object": None,
        "previousDigestHashValue": None,
        "previousDigestHashAlgorithm": None,
        "previousDigestSignature": None,
    }


def test_empty_digest_has_no_files_and_null_event_times() -> None:
    doc = json.loads(build_digest(CHAIN, WINDOW, "b", KEY, "f", PREVIOUS, []))
    assert doc["logFiles"] == []
    assert doc["newestEventTime"] is None
    assert doc["oldestEventTime"] is None
    assert doc["previousDigestS3Object"] == "AWSLogs/prev.json.gz"


def test_files_sorted_deduplicated_and_event_times_spanned() -> None:
    a = log("AWSLogs/a.json.gz", "2015-08-17T14:10:00Z", "2015-08-17T14:20:00Z")
    b = log("AWSLogs/b.json.gz", "2015-08-17T13:59:00Z", "2015-08-17T14:05:00Z")
    a_again = dataclasses.replace(a, sha256="cd" * 32)  # a replayed manifest for the same object
    one = build_digest(CHAIN, WINDOW, "b", KEY, "f", None, [b, a, a_again])
    two = build_digest(CHAIN, WINDOW, "b", KEY, "f", None, [a, b, a_again])
    assert one == two
    doc = json.loads(one)
    assert [(f["s3Object"], f["hashValue"]) for f in doc["logFiles"]] == [
        ("AWSLogs/a.json.gz", "cd" * 32),
        ("AWSLogs/b.json.gz", "9b" * 32),
    ]
    # Late delivery: the oldest event may precede digestStartTime, as the guide notes.
    assert (doc["oldestEventTime"], doc["newestEventTime"]) == (
        "2015-08-17T13:59:00Z",
        "2015-08-17T14:20:00Z",
    )


def test_event_times_are_respelled_canonically() -> None:
    f = log("AWSLogs/a.json.gz", "2015-08-17T14:10:00+00:00", "2015-08-17T16:20:00+02:00")
    entry = json.loads(build_digest(CHAIN, WINDOW, "b", KEY, "f", None, [f]))["logFiles"][0]
    assert (entry["oldestEventTime"], entry["newestEventTime"]) == (
        "2015-08-17T14:10:00Z",
        "2015-08-17T14:20:00Z",
    )


def test_a_file_of_another_chain_is_refused() -> None:
    other = dataclasses.replace(
        log("AWSLogs/a.json.gz", "2015-08-17T14:10:00Z", "2015-08-17T14:20:00Z"),
        chain=dataclasses.replace(CHAIN, region="us-west-2"),
    )
    with pytest.raises(ValueError, match="belongs to another chain"):
        build_digest(CHAIN, WINDOW, "b", KEY, "f", None, [other])


def test_windows() -> None:
    w = DigestWindow.starting(dt.datetime(2024, 5, 1, 10, 0, 7, 999, tzinfo=dt.UTC))
    assert (w.start.isoformat(), w.end.isoformat()) == (
        "2024-05-01T10:00:07+00:00",
        "2024-05-01T11:00:07+00:00",
    )
    assert w.following().start == w.end
    assert w.contains("2024-05-01T10:00:07Z")
    assert not w.contains("2024-05-01T11:00:07Z")
    with pytest.raises(ValueError, match="must end after it starts"):
        DigestWindow(w.end, w.start)
