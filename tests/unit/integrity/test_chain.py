"""The chain: each digest signed so awscli's own validator accepts it, linked, replayable."""

from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import hashlib
import json

import pytest
from awscli.customizations.cloudtrail.validation import Sha256RSADigestValidator

from recorder.integrity import (
    ChainState,
    DigestWindow,
    KeyRing,
    StaleWindowError,
    next_digest,
    state_from_digest,
)
from recorder.integrity.chain import after_conflict, next_backfill
from tests.unit.integrity.fakes import BUCKET, T0, Chain, aws_cli, hourly_chain, ours, request


def test_every_digest_passes_the_cli_validator(ring: KeyRing) -> None:
    c = hourly_chain(ring)
    assert len(c.digests) == 4
    public_key = ring.key_for(T0).public_key.to_api()["Value"]
    for d in c.digests:
        data = json.loads(d.body)
        data["_signature"] = d.metadata["signature"]
        # Raises DigestError unless the CLI accepts bucket, key, body and signature.
        Sha256RSADigestValidator().validate(d.bucket, d.key, public_key, data, d.body)
        assert d.metadata["signature-algorithm"] == "SHA256withRSA"
        assert data["digestPublicKeyFingerprint"] == ring.key_for(T0).fingerprint


def test_digests_link_back_to_the_previous_one(ring: KeyRing) -> None:
    c = hourly_chain(ring)
    docs = [json.loads(d.body) for d in c.digests]
    assert docs[0]["previousDigestSignature"] is None
    assert docs[0]["previousDigestS3Object"] is None
    for prev, doc in zip(c.digests, docs[1:], strict=False):
        assert doc["previousDigestS3Bucket"] == BUCKET
        assert doc["previousDigestS3Object"] == prev.key
        assert doc["previousDigestHashValue"] == hashlib.sha256(prev.body).hexdigest()
        assert doc["previousDigestHashAlgorithm"] == "SHA-256"
        assert doc["previousDigestSignature"] == prev.metadata["signature"]
    assert [(d["digestStartTime"], d["digestEndTime"]) for d in docs] == [
        ("2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z"),
        ("2024-05-01T11:00:00Z", "2024-05-01T12:00:00Z"),
        ("2024-05-01T12:00:00Z", "2024-05-01T13:00:00Z"),
        ("2024-05-01T13:00:00Z", "2024-05-01T14:00:00Z"),
    ]
    assert [len(d["logFiles"]) for d in docs] == [2, 1, 0, 2]
    assert (docs[2]["newestEventTime"], docs[2]["oldestEventTime"]) == (None, None)


def test_gzip_is_deterministic_and_inflates_to_the_signed_body(ring: KeyRing) -> None:
    d = hourly_chain(ring).digests[0]
    assert gzip.decompress(d.gz) == d.body
    assert d.gz[3] == 0  # FLG: no file name
    assert d.gz[4:8] == b"\0\0\0\0"  # MTIME 0


def test_replay_is_byte_identical(ring: KeyRing) -> None:
    c = hourly_chain(ring)
    state = ChainState.from_json(json.loads(json.dumps(c.state.to_json())))  # type: ignore[union-attr]
    files = [c.log_file(T0 + dt.timedelta(hours=4, minutes=m), 2) for m in (5, 30)]
    window = DigestWindow.starting(T0 + dt.timedelta(hours=4))
    first = next_digest(state, window, files, ring, bucket=BUCKET)
    again = next_digest(state, window, list(reversed(files)), ring, bucket=BUCKET)
    assert first == again
    assert first[0].gz == again[0].gz


def test_state_recovered_from_the_last_digest_object(ring: KeyRing) -> None:
    c = hourly_chain(ring)
    last = c.digests[-1]
    recovered = state_from_digest(c.chain, last.bucket, last.key, last.gz, last.metadata)
    assert recovered == c.state
    assert recovered.previous is not None
    assert recovered.previous.end_time == "2024-05-01T14:00:00Z"
    assert recovered.next_window() == DigestWindow.starting(T0 + dt.timedelta(hours=4))
    # Inflated bodies work too, and the digest after either state is the same.
    assert state_from_digest(c.chain, last.bucket, last.key, last.body, last.metadata) == recovered


def test_state_from_digest_refuses_wrong_objects(ring: KeyRing) -> None:
    c = hourly_chain(ring)
    d = c.digests[-1]
    with pytest.raises(ValueError, match="has been moved from its original location"):
        state_from_digest(c.chain, "other-bucket", d.key, d.gz, d.metadata)
    with pytest.raises(ValueError, match="has no signature metadata"):
        state_from_digest(c.chain, d.bucket, d.key, d.gz, {})
    other = dataclasses.replace(c.chain, region="us-west-2")
    with pytest.raises(ValueError, match="is not a digest of"):
        state_from_digest(other, d.bucket, d.key, d.gz, d.metadata)


def test_a_window_already_digested_is_stale(ring: KeyRing) -> None:
    c = hourly_chain(ring)
    assert c.state is not None
    with pytest.raises(StaleWindowError, match="starts before the previous digest's end"):
        next_digest(c.state, DigestWindow.starting(T0), [], ring, bucket=BUCKET)


def test_final_digest_ends_the_chain_and_the_next_one_starts_anew(ring: KeyRing) -> None:
    c = hourly_chain(ring)
    stop = T0 + dt.timedelta(hours=4, minutes=17, seconds=3)  # StopLogging
    final = c.digest(DigestWindow(T0 + dt.timedelta(hours=4), stop), [], final=True)
    assert json.loads(final.body)["digestEndTime"] == "2024-05-01T14:17:03Z"
    assert json.loads(final.body)["previousDigestS3Object"] == c.digests[-2].key
    # no link; the state remembers the chain ended (no digest for the stopped period)
    assert c.state == ChainState(c.chain, None, ended="2024-05-01T14:17:03Z")
    assert ChainState.from_json(c.state.to_json()) == c.state
    assert c.state.next_window() is None
    restart = c.digest(DigestWindow.starting(stop + dt.timedelta(hours=2)), [])
    assert json.loads(restart.body)["previousDigestSignature"] is None


def test_keys_of_another_region_cannot_sign(ring: KeyRing) -> None:
    c = Chain(ring)
    west = ChainState(dataclasses.replace(c.chain, region="us-west-2"))
    with pytest.raises(ValueError, match="us-east-2 keys cannot sign digests for us-west-2"):
        next_digest(west, DigestWindow.starting(T0), [], ring, bucket=BUCKET)


def test_prefix_and_org_trail_digests_are_where_the_guide_puts_them(ring: KeyRing) -> None:
    org = Chain(ring, prefix="audit")
    org.chain = dataclasses.replace(org.chain, account_id="444455556666", org_id="o-abc123")
    d = org.digest(DigestWindow.starting(T0), [])
    assert d.key == (
        "audit/AWSLogs/o-abc123/444455556666/CloudTrail-Digest/us-east-2/2024/05/01/"
        "444455556666_CloudTrail-Digest_us-east-2_my-trail_us-east-2_20240501T110000Z.json.gz"
    )
    assert json.loads(d.body)["awsAccountId"] == "444455556666"


def test_every_digest_put_is_conditional(ring: KeyRing) -> None:
    """No digest may overwrite an object: S3 refuses the put when the key exists."""
    d = hourly_chain(ring).digests[0]
    assert d.put_object_kwargs()["IfNoneMatch"] == "*"


def test_a_replayed_digest_found_at_its_key_is_ours(ring: KeyRing) -> None:
    c = hourly_chain(ring)
    assert c.state is not None
    before = c.state
    files = [c.log_file(T0 + dt.timedelta(hours=4, minutes=5), 2)]
    window = DigestWindow.starting(T0 + dt.timedelta(hours=4))
    artifact, state = next_digest(before, window, files, ring, bucket=BUCKET)
    found = after_conflict(artifact, state, files, artifact.gz, artifact.metadata, final=False)
    assert found.same and found.state == state and found.unlisted == ()


def test_another_digesters_digest_is_adopted_and_our_extra_files_returned(ring: KeyRing) -> None:
    """Two owners of one chain close the same window from different states: the one
    S3 holds wins; the loser continues from it and lists what it alone had elsewhere."""
    c = hourly_chain(ring)
    assert c.state is not None
    window = DigestWindow.starting(T0 + dt.timedelta(hours=4))
    a = c.log_file(T0 + dt.timedelta(hours=4, minutes=5), 2)
    b = c.log_file(T0 + dt.timedelta(hours=4, minutes=9), 2)
    theirs, their_state = next_digest(c.state, window, [a], ring, bucket=BUCKET)
    stale = ChainState(c.chain)  # an owner that never read the chain's state
    ours, our_state = next_digest(stale, window, [a, b], ring, bucket=BUCKET)
    assert ours.key == theirs.key and ours.body != theirs.body
    found = after_conflict(ours, our_state, [a, b], theirs.gz, theirs.metadata, final=False)
    assert not found.same
    assert found.state == their_state  # the chain goes on from the digest S3 holds
    assert found.unlisted == (b,)
    # a final window adopted ends the chain at the stored digest
    ended = after_conflict(ours, our_state, [a, b], theirs.gz, theirs.metadata, final=True)
    assert ended.state == ChainState(c.chain, None, ended=window.end.strftime("%Y-%m-%dT%H:%M:%SZ"))


def test_an_object_that_is_no_digest_of_the_chain_is_never_adopted(ring: KeyRing) -> None:
    c = hourly_chain(ring)
    assert c.state is not None
    window = DigestWindow.starting(T0 + dt.timedelta(hours=4))
    ours, state = next_digest(c.state, window, [], ring, bucket=BUCKET)
    with pytest.raises(ValueError, match="has been moved from its original location"):
        after_conflict(ours, state, [], gzip.compress(b'{"x": 1}'), {}, final=False)


def test_backfill_digests_are_in_awss_form_and_the_cli_validates_them(
    ring: KeyRing, capsys: pytest.CaptureFixture[str]
) -> None:
    """Files delivered after their hour's digest: two backfill digests, chained to each
    other apart from the hourly chain, keys ending ``_backfill.json.gz``, metadata
    ``backfill-generation-timestamp``; awscli's validate-logs counts both valid."""
    c = hourly_chain(ring)
    assert c.state is not None
    late = [
        c.log_file(T0 + dt.timedelta(minutes=40), 2),
        c.log_file(T0 + dt.timedelta(minutes=41), 1),
    ]
    generated = T0 + dt.timedelta(hours=3, minutes=30)
    first_window = DigestWindow(T0 + dt.timedelta(minutes=40), T0 + dt.timedelta(minutes=42))
    b1, state = next_backfill(c.state, first_window, late, ring, bucket=BUCKET, generated=generated)
    assert b1.key.endswith(
        "_CloudTrail-Digest_us-east-2_my-trail_us-east-2_20240501T104200Z_backfill.json.gz"
    )
    assert b1.metadata["backfill-generation-timestamp"] == "2024-05-01T13:30:00Z"
    assert b1.put_object_kwargs()["IfNoneMatch"] == "*"
    assert state.previous == c.state.previous  # the hourly chain is untouched
    assert state.backfill is not None and state.backfill.key == b1.key
    c.s3.put(b1.bucket, b1.key, b1.gz, b1.metadata)
    later = c.log_file(T0 + dt.timedelta(hours=2, minutes=5), 1)
    b2, state = next_backfill(
        state,
        DigestWindow(T0 + dt.timedelta(hours=2, minutes=5), T0 + dt.timedelta(hours=2, minutes=6)),
        [later],
        ring,
        bucket=BUCKET,
        generated=generated + dt.timedelta(minutes=20),
    )
    assert json.loads(b2.body)["previousDigestS3Object"] == b1.key
    assert json.loads(b2.body)["previousDigestSignature"] == b1.signature
    c.s3.put(b2.bucket, b2.key, b2.gz, b2.metadata)
    result = aws_cli(c, request(c), capsys)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "2/2 backfill digest files valid" in result.stdout
    assert "4/4 digest files valid" in result.stdout
    assert "8/8 log files valid" in result.stdout  # 5 hourly + 3 backfilled
    assert "INVALID" not in result.stdout + result.stderr
    assert result.stderr == ""  # no gap between the two backfill digests
    mine = ours(c, request(c))  # recorder validate says the same, line for line
    assert (mine.exit_code, mine.stdout, mine.stderr) == (0, result.stdout, result.stderr)
    # a backfill window that does not follow the last one is stale
    with pytest.raises(StaleWindowError):
        next_backfill(state, first_window, late, ring, bucket=BUCKET, generated=generated)
    # and a backfill digest without its metadata is invalid to the CLI
    c.s3.put(
        b2.bucket, b2.key, b2.gz, {k: v for k, v in b2.metadata.items() if "backfill" not in k}
    )
    broken = aws_cli(c, request(c), capsys)
    assert (
        f"(backfill) Digest file\ts3://{BUCKET}/{b2.key}\tINVALID: invalid format" in broken.stderr
    )
