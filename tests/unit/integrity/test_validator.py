"""Our validate-logs core against the real CLI's command, over the same in-memory bucket.

Every scenario asserts the exact text and exit status, and that awscli's
``CloudTrailValidateLogs`` prints the same bytes for the same objects.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import hashlib
import json

import pytest

from recorder.integrity import (
    DigestWindow,
    KeyRing,
    LogValidation,
    Output,
    SigningKey,
    ValidationRequest,
    ValidationResult,
    build_digest,
    digest_key,
    string_to_sign,
    validate_logs,
)
from tests.unit.integrity.fakes import (
    BUCKET,
    REGION,
    T0,
    TRAIL,
    Chain,
    aws_cli,
    hourly_chain,
    ours,
    request,
)

H = dt.timedelta(hours=1)
HEADER = (
    f"Validating log files for trail {TRAIL} between "
    "2024-05-01T10:00:00Z and 2024-05-01T14:00:00Z\n\n"
)
REQUESTED = "Results requested for 2024-05-01T10:00:00Z to 2024-05-01T14:00:00Z\n"
FOUND = "Results found for 2024-05-01T10:00:00Z to 2024-05-01T14:00:00Z:\n"


def digest_line(c: Chain, i: int, status: str) -> str:
    return f"Digest file\ts3://{c.digests[i].bucket}/{c.digests[i].key}\t{status}"


def log_line(c: Chain, i: int, status: str) -> str:
    return f"Log file\ts3://{c.logs[i].bucket}/{c.logs[i].key}\t{status}"


def both(c: Chain, req: ValidationRequest, capsys: pytest.CaptureFixture[str]) -> ValidationResult:
    """Our result, after checking the real CLI says exactly the same."""
    mine = ours(c, req)
    assert aws_cli(c, req, capsys) == mine
    return mine


def test_valid_chain_verbose(ring: KeyRing, capsys: pytest.CaptureFixture[str]) -> None:
    c = hourly_chain(ring)
    r = both(c, request(c), capsys)
    # Newest digest first, each followed by its log files (logs 0,1 | 2 | none | 3,4).
    lines = [
        digest_line(c, 3, "valid"),
        log_line(c, 3, "valid"),
        log_line(c, 4, "valid"),
        digest_line(c, 2, "valid"),
        digest_line(c, 1, "valid"),
        log_line(c, 2, "valid"),
        digest_line(c, 0, "valid"),
        log_line(c, 0, "valid"),
        log_line(c, 1, "valid"),
    ]
    assert r.stdout == (
        HEADER
        + "".join(f"{line}\n" for line in lines)
        + "\n"
        + REQUESTED
        + FOUND
        + "\n4/4 digest files valid\n5/5 log files valid\n"
    )
    assert (r.stderr, r.exit_code) == ("", 0)


def test_valid_chain_quiet(ring: KeyRing, capsys: pytest.CaptureFixture[str]) -> None:
    c = hourly_chain(ring)
    r = both(c, request(c, verbose=False), capsys)
    assert (
        r.stdout == HEADER + REQUESTED + FOUND + "\n4/4 digest files valid\n5/5 log files valid\n"
    )
    assert (r.stderr, r.exit_code) == ("", 0)


def rewrite_gz(c: Chain, bucket: str, key: str, change: bytes, to: bytes) -> None:
    stored = c.s3.objects[(bucket, key)]
    body = gzip.decompress(stored.body)
    assert change in body
    c.s3.put(bucket, key, gzip.compress(body.replace(change, to, 1), mtime=0), stored.metadata)


def test_changed_log_file_byte(ring: KeyRing, capsys: pytest.CaptureFixture[str]) -> None:
    c = hourly_chain(ring)
    rewrite_gz(c, c.logs[2].bucket, c.logs[2].key, b'"seq":1', b'"seq":7')
    r = both(c, request(c, verbose=False), capsys)
    assert r.stderr == log_line(c, 2, "INVALID: hash value doesn't match") + "\n\n"
    assert r.stdout == (
        HEADER
        + REQUESTED
        + FOUND
        + "\n4/4 digest files valid\n4/5 log files valid, 1/5 log files INVALID\n"
    )
    assert r.exit_code == 1


def test_deleted_log_file(ring: KeyRing, capsys: pytest.CaptureFixture[str]) -> None:
    c = hourly_chain(ring)
    del c.s3.objects[(c.logs[3].bucket, c.logs[3].key)]
    r = both(c, request(c, verbose=False), capsys)
    assert r.stderr == log_line(c, 3, "INVALID: not found") + "\n\n"
    assert r.stdout.endswith(
        "\n4/4 digest files valid\n4/5 log files valid, 1/5 log files INVALID\n"
    )
    assert r.exit_code == 1


def test_changed_digest_body(ring: KeyRing, capsys: pytest.CaptureFixture[str]) -> None:
    c = hourly_chain(ring)
    # Hide a log file from the record: drop digest 1's only entry, keep its signature.
    doc = json.loads(c.digests[1].body)
    doc["logFiles"] = []
    stored = c.s3.objects[(BUCKET, c.digests[1].key)]
    c.s3.put(BUCKET, c.digests[1].key, gzip.compress(json.dumps(doc).encode()), stored.metadata)
    r = both(c, request(c, verbose=False), capsys)
    assert r.stderr == digest_line(c, 1, "INVALID: signature verification failed") + "\n\n"
    # Its log files cannot be vouched for, so they are not counted at all.
    assert r.stdout.endswith(
        "\n3/4 digest files valid, 1/4 digest files INVALID\n4/4 log files valid\n"
    )
    assert r.exit_code == 1


def test_deleted_digest_in_the_middle(ring: KeyRing, capsys: pytest.CaptureFixture[str]) -> None:
    c = hourly_chain(ring)
    del c.s3.objects[(BUCKET, c.digests[2].key)]
    r = both(c, request(c), capsys)
    # Verbose: the error follows a stdout line, so it is set off by a blank line first.
    assert r.stderr == "\n" + digest_line(c, 2, "INVALID: not found") + "\n\n"
    assert digest_line(c, 1, "valid") + "\n" in r.stdout  # the walk resumes below the hole
    assert r.stdout.endswith(
        REQUESTED
        + FOUND
        + "\n3/4 digest files valid, 1/4 digest files INVALID\n5/5 log files valid\n"
    )
    assert r.exit_code == 1


def test_two_consecutive_deleted_digests(ring: KeyRing, capsys: pytest.CaptureFixture[str]) -> None:
    """aws-cli issue 7054: with digests 1 and 2 of 0..3 deleted, the CLI reports the
    one digest 3 links to and resumes at digest 0; digest 1 goes unreported. With
    ``find_gaps`` the chain's cadence shows the hole held two digests."""
    c = hourly_chain(ring)
    del c.s3.objects[(BUCKET, c.digests[1].key)]
    del c.s3.objects[(BUCKET, c.digests[2].key)]
    cli = both(c, request(c), capsys)  # what the real CLI prints
    assert cli.stderr == "\n" + digest_line(c, 2, "INVALID: not found") + "\n\n"
    assert "2/3 digest files valid, 1/3 digest files INVALID" in cli.stdout
    found = validate_logs(
        request(c), c.s3, lambda s, e: c.ring.public_keys(s, e), c.s3.fetch_log, find_gaps=True
    )
    folder = c.digests[0].key.rsplit("/", 4)[0]
    assert found.stderr == (
        "\n"
        + digest_line(c, 2, "INVALID: not found")
        + "\n\n"
        + f"Digest files\ts3://{BUCKET}/{folder}\tINVALID: 2 consecutive digests not found "
        "between 2024-05-01T11:00:00Z and 2024-05-01T13:00:00Z\n\n"
    )
    assert "2/4 digest files valid, 2/4 digest files INVALID" in found.stdout
    assert found.exit_code == 1
    # One deleted digest: nothing more than the CLI says.
    c = hourly_chain(ring)
    del c.s3.objects[(BUCKET, c.digests[2].key)]
    one = validate_logs(
        request(c), c.s3, lambda s, e: c.ring.public_keys(s, e), c.s3.fetch_log, find_gaps=True
    )
    assert one == ours(c, request(c))


def test_all_four_tamperings_at_once(ring: KeyRing, capsys: pytest.CaptureFixture[str]) -> None:
    c = hourly_chain(ring)
    rewrite_gz(c, c.logs[0].bucket, c.logs[0].key, b'"seq":0', b'"seq":9')
    del c.s3.objects[(c.logs[4].bucket, c.logs[4].key)]
    rewrite_gz(c, BUCKET, c.digests[1].key, b'"digestStartTime":"', b'"digestStartTime": "')
    del c.s3.objects[(BUCKET, c.digests[2].key)]
    r = both(c, request(c, verbose=False), capsys)
    assert r.stderr == "".join(
        f"{line}\n\n"
        for line in (
            log_line(c, 4, "INVALID: not found"),
            digest_line(c, 2, "INVALID: not found"),
            digest_line(c, 1, "INVALID: signature verification failed"),
            log_line(c, 0, "INVALID: hash value doesn't match"),
        )
    )
    assert r.stdout.endswith(
        "\n2/4 digest files valid, 2/4 digest files INVALID"
        "\n2/4 log files valid, 2/4 log files INVALID\n"
    )
    assert r.exit_code == 1


def test_moved_digest_and_bad_format(ring: KeyRing, capsys: pytest.CaptureFixture[str]) -> None:
    c = hourly_chain(ring)
    moved = c.s3.objects.pop((BUCKET, c.digests[3].key))
    c.s3.put(BUCKET, c.digests[3].key.replace("140000Z", "140500Z"), moved.body, moved.metadata)
    c.s3.put(
        BUCKET, c.digests[2].key, b"not gzip", c.s3.objects[(BUCKET, c.digests[2].key)].metadata
    )
    r = both(c, request(c, verbose=False), capsys)
    # Each bad digest is reported and the walk goes on from the next older one listed.
    assert r.stderr == (
        f"Digest file\ts3://{BUCKET}/{c.digests[3].key.replace('140000Z', '140500Z')}\t"
        "INVALID: has been moved from its original location\n\n"
        + digest_line(c, 2, "INVALID: invalid format")
        + "\n\n"
    )
    assert r.stdout.endswith(
        "\n2/4 digest files valid, 2/4 digest files INVALID\n3/3 log files valid\n"
    )
    assert r.exit_code == 1


def test_gap_after_stop_and_restart(ring: KeyRing, capsys: pytest.CaptureFixture[str]) -> None:
    c = Chain(ring)
    w = DigestWindow.starting(T0)
    c.digest(w, [c.log_file(T0 + dt.timedelta(minutes=5), 1)])
    c.digest(DigestWindow(w.end, w.end + dt.timedelta(minutes=30)), [], final=True)
    c.digest(DigestWindow.starting(T0 + 3 * H), [c.log_file(T0 + 3 * H + H / 2, 2)])
    r = both(c, request(c), capsys)
    assert r.stderr == (
        "\nNo log files were delivered by CloudTrail between "
        "2024-05-01T11:30:00Z and 2024-05-01T13:00:00Z\n\n"
    )
    assert r.stdout.endswith("\n3/3 digest files valid\n2/2 log files valid\n")
    assert r.exit_code == 0  # a gap is reported, not counted as invalid


def test_key_rotation_mid_chain(capsys: pytest.CaptureFixture[str]) -> None:
    old = SigningKey.generate(T0 - 10 * H, T0 + 2 * H + H / 2)
    new = SigningKey.generate(T0 + 2 * H, T0 + 30 * H)
    ring = KeyRing(REGION, (old, new))
    c = hourly_chain(ring)
    fingerprints = [json.loads(d.body)["digestPublicKeyFingerprint"] for d in c.digests]
    assert fingerprints == [old.fingerprint, new.fingerprint, new.fingerprint, new.fingerprint]
    r = both(c, request(c), capsys)
    assert r.stdout.endswith("\n4/4 digest files valid\n5/5 log files valid\n")
    assert r.exit_code == 0
    # Without the old key listed, its digest cannot be checked.
    c.ring = KeyRing(REGION, (new,))
    r = both(c, request(c, verbose=False), capsys)
    assert (
        r.stderr
        == digest_line(
            c,
            0,
            f"INVALID: public key not found in region us-east-2 for fingerprint {old.fingerprint}",
        )
        + "\n\n"
    )


def test_bucket_change_is_followed(ring: KeyRing, capsys: pytest.CaptureFixture[str]) -> None:
    c = Chain(ring)
    w = DigestWindow.starting(T0)
    for i in range(4):
        if i == 2:
            c.bucket = "new-bucket"  # UpdateTrail moved the trail's bucket
        c.digest(w, [c.log_file(w.start + dt.timedelta(minutes=20), 1)])
        w = w.following()
    assert json.loads(c.digests[2].body)["previousDigestS3Bucket"] == BUCKET
    r = both(c, request(c), capsys)  # validating the new bucket walks into the old one
    assert digest_line(c, 0, "valid") in r.stdout
    assert r.stdout.endswith("\n4/4 digest files valid\n4/4 log files valid\n")


def test_org_trail_with_prefix(ring: KeyRing, capsys: pytest.CaptureFixture[str]) -> None:
    c = Chain(ring, prefix="audit/ct")
    c.chain = dataclasses.replace(c.chain, account_id="444455556666", org_id="o-abc123")
    w = DigestWindow.starting(T0)
    for _ in range(3):
        c.digest(w, [c.log_file(w.start + dt.timedelta(minutes=40), 2)])
        w = w.following()
    req = request(c, end=T0 + 3 * H, account_id="444455556666")
    r = both(c, req, capsys)
    assert r.stdout.endswith("\n3/3 digest files valid\n3/3 log files valid\n")
    assert c.digests[0].key.startswith("audit/ct/AWSLogs/o-abc123/444455556666/CloudTrail-Digest/")


def test_partial_range(ring: KeyRing, capsys: pytest.CaptureFixture[str]) -> None:
    c = hourly_chain(ring)
    r = both(c, request(c, start=T0 + 2 * H + H / 4, end=T0 + 3 * H, verbose=False), capsys)
    # The digest closing an hour after the end is read (it covers the end), and the walk
    # stops at the first digest that starts before the start time.
    assert r.stdout == (
        f"Validating log files for trail {TRAIL} between "
        "2024-05-01T12:15:00Z and 2024-05-01T13:00:00Z\n\n"
        "Results requested for 2024-05-01T12:15:00Z to 2024-05-01T13:00:00Z\n"
        "Results found for 2024-05-01T12:15:00Z to 2024-05-01T13:00:00Z:\n"
        "\n2/2 digest files valid\n2/2 log files valid\n"
    )
    assert r.exit_code == 0


def test_no_digests_found(ring: KeyRing, capsys: pytest.CaptureFixture[str]) -> None:
    c = Chain(ring)
    r = both(c, request(c, verbose=False), capsys)
    assert r.stdout == HEADER + REQUESTED + "No digests found\n"
    assert r.exit_code == 0


def test_no_public_keys_fails_the_run(capsys: pytest.CaptureFixture[str]) -> None:
    c = Chain(KeyRing(REGION))
    r = both(c, request(c), capsys)
    assert r.stdout == HEADER
    assert r.stderr == (
        "\nNo public keys found between 2024-05-01T10:00:00Z and 2024-05-01T16:00:00Z\n"
    )
    assert r.exit_code == 255


def test_streaming_output(ring: KeyRing) -> None:
    c = hourly_chain(ring)
    run = LogValidation(request(c), c.s3, c.ring.public_keys, c.s3.fetch_log)
    first = next(iter(run.run()))
    assert first == Output("stdout", HEADER)


def test_backfill_digests_are_checked_in_a_second_pass(
    ring: KeyRing, capsys: pytest.CaptureFixture[str]
) -> None:
    # recorder never writes backfill digests, but validate-logs reads them; so must we.
    c = hourly_chain(ring)
    window = DigestWindow.starting(T0 + H)
    key = digest_key(c.chain, None, window.end).replace(".json.gz", "_backfill.json.gz")
    signer = ring.key_for(window.end)
    body = build_digest(c.chain, window, BUCKET, key, signer.fingerprint, None, [c.logs[2]])
    signature = signer.sign(
        string_to_sign("2024-05-01T12:00:00Z", BUCKET, key, hashlib.sha256(body).hexdigest(), None)
    ).hex()
    metadata = {
        "signature": signature,
        "signature-algorithm": "SHA256withRSA",
        "backfill-generation-timestamp": "2024-05-02T09:00:00Z",
    }
    c.s3.put(BUCKET, key, gzip.compress(body, mtime=0), metadata)
    r = both(c, request(c), capsys)
    assert f"(backfill) Digest file\ts3://{BUCKET}/{key}\tvalid\n" + log_line(c, 2, "valid") in (
        r.stdout
    )
    assert r.stdout.endswith(
        "\n4/4 digest files valid\n1/1 backfill digest files valid\n6/6 log files valid\n"
    )
    # Without its generation timestamp a backfill digest is malformed.
    del metadata["backfill-generation-timestamp"]
    c.s3.put(BUCKET, key, gzip.compress(body, mtime=0), metadata)
    r = both(c, request(c, verbose=False), capsys)
    assert r.stderr == f"(backfill) Digest file\ts3://{BUCKET}/{key}\tINVALID: invalid format\n\n"
    assert r.exit_code == 1
