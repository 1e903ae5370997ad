"""``recorder policy``: the guide's statements for the configured principal, the trails'
accounts, prefix, organization and partition, as JSON the AWS CLI takes."""

from __future__ import annotations

import json

import pytest

from recorder.cli import main
from recorder.policies import (
    Principal,
    bucket_grant_problem,
    key_grant_problem,
    topic_grant_problem,
)

ROLE = "arn:aws:iam::444455556666:role/recorder-writer"
A, B = "111122223333", "222233334444"
TRAIL_A = f"arn:aws:cloudtrail:us-east-1:{A}:trail/a"
TRAIL_B = f"arn:aws:cloudtrail:eu-west-1:{B}:trail/b"


def policy(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, object]:
    assert main(["policy", *argv]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_a_log_archive_bucket_for_two_accounts_and_an_organization(
    capsys: pytest.CaptureFixture[str],
) -> None:
    doc = policy(
        capsys,
        "--principal",
        ROLE,
        "bucket",
        "--bucket",
        "archive",
        "--prefix",
        "ct",
        "--trail-arn",
        TRAIL_A,
        "--trail-arn",
        TRAIL_B,
        "--organization-id",
        "o-exampleorgid",
    )
    write = doc["Statement"][1]  # type: ignore[index]
    assert write["Principal"] == {"AWS": ROLE}
    assert write["Resource"] == [
        f"arn:aws:s3:::archive/ct/AWSLogs/{A}/*",
        f"arn:aws:s3:::archive/ct/AWSLogs/{B}/*",
        "arn:aws:s3:::archive/ct/AWSLogs/o-exampleorgid/*",
    ]
    role = Principal.parse(ROLE)
    text = json.dumps(doc)
    for account, trail in ((A, TRAIL_A), (B, TRAIL_B)):
        assert bucket_grant_problem(text, "archive", "ct", account, trail, principal=role) is None
    assert (
        bucket_grant_problem(text, "archive", "ct", A, TRAIL_A, "o-exampleorgid", principal=role)
        is None
    )
    assert bucket_grant_problem(text, "archive", None, A, TRAIL_A, principal=role) is not None


def test_the_principal_comes_from_the_setting_and_is_never_guessed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECORDER_DELIVERY_PRINCIPAL", ROLE)
    doc = policy(capsys, "topic", "--topic-arn", f"arn:aws:sns:us-east-1:{A}:notices")
    assert (
        topic_grant_problem(
            json.dumps(doc),
            f"arn:aws:sns:us-east-1:{A}:notices",
            A,
            TRAIL_A,
            principal=Principal.parse(ROLE),
        )
        is None
    )
    monkeypatch.delenv("RECORDER_DELIVERY_PRINCIPAL")
    assert main(["policy", "topic", "--topic-arn", f"arn:aws:sns:us-east-1:{A}:t"]) == 2
    assert "name the principal recorder delivers as" in capsys.readouterr().err


def test_a_key_for_the_trails_of_govcloud(capsys: pytest.CaptureFixture[str]) -> None:
    gov_role = "arn:aws-us-gov:iam::444455556666:role/recorder-writer"
    trail = f"arn:aws-us-gov:cloudtrail:us-gov-west-1:{A}:trail/a"
    doc = policy(capsys, "key", "--principal", gov_role, "--key-owner", A, "--trail-arn", trail)
    key = f"arn:aws-us-gov:kms:us-gov-west-1:{A}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    assert doc["Statement"][0]["Principal"] == {"AWS": f"arn:aws-us-gov:iam::{A}:root"}  # type: ignore[index]
    assert (
        key_grant_problem(json.dumps(doc), key, A, trail, principal=Principal.parse(gov_role))
        is None
    )


def test_a_principal_of_another_partition_than_the_trails_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    cn_trail = f"arn:aws-cn:cloudtrail:cn-north-1:{A}:trail/a"
    assert (
        main(["policy", "--principal", ROLE, "bucket", "--bucket", "b", "--trail-arn", cn_trail])
        == 2
    )
    assert "partition aws and the trails in aws-cn" in capsys.readouterr().err
