"""A log file as S3 gets it: standard gzip any reader takes, the same bytes for the
same records, the digest's hash over the uncompressed JSON."""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib

from recorder.delivery.logfile import build_log_file

RECORDS = [
    json.dumps({"eventID": f"e{i}", "eventTime": f"2026-12-01T05:00:0{i % 10}Z", "n": i}).encode()
    for i in range(500)
]
TIMES = [f"2026-12-01T05:00:0{i % 10}Z" for i in range(500)]


def test_the_file_is_gzip_that_any_reader_inflates_to_the_records() -> None:
    f = build_log_file(RECORDS, TIMES)
    assert f.body == b'{"Records":[' + b",".join(RECORDS) + b"]}"
    assert gzip.decompress(f.gz) == f.body  # Python's gzip (validate-logs reads so)
    assert zlib.decompress(f.gz, zlib.MAX_WBITS | 16) == f.body  # recorder's validator
    assert json.loads(gzip.decompress(f.gz))["Records"][499]["n"] == 499
    assert len(f.gz) < len(f.body) / 5
    assert (f.record_count, f.oldest_event_time, f.newest_event_time) == (
        500,
        "2026-12-01T05:00:00Z",
        "2026-12-01T05:00:09Z",
    )


def test_same_records_same_object_bytes_and_the_hash_is_of_the_json() -> None:
    a, b = build_log_file(RECORDS, TIMES), build_log_file(list(RECORDS), list(TIMES))
    assert a.gz == b.gz  # a retried put writes what the first wrote
    assert a.gz[:10] == bytes.fromhex("1f8b08000000000000ff")  # gzip, deflate, mtime 0, no name
    assert a.sha256 == hashlib.sha256(a.body).hexdigest()


def test_an_empty_batch_has_no_event_times() -> None:
    f = build_log_file([], [])
    assert gzip.decompress(f.gz) == b'{"Records":[]}'
    assert (f.oldest_event_time, f.newest_event_time) == (None, None)
