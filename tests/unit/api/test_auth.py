"""SigV4 verification: requests signed by botocore's own signer are accepted, and every
way of getting it wrong is answered with the code AWS uses."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from recorder.api.auth import CredentialStore, verify
from recorder.api.protocol import ApiError

TARGET = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.ListTrails"
STORE = CredentialStore.from_document(
    {
        "credentials": [
            {"AccessKeyId": "AKIDALICE", "SecretAccessKey": "s3cret", "AccountId": "111111111111"},
            {
                "AccessKeyId": "AKIDBOB",
                "SecretAccessKey": "other",
                "AccountId": "222222222222",
                "UserName": "bob",
            },
        ]
    }
)


def signed(
    body: bytes = b"{}",
    *,
    key: str = "AKIDALICE",
    secret: str = "s3cret",
    region: str = "eu-west-1",
    service: str = "cloudtrail",
    url: str = "http://127.0.0.1:8080/",
    content_sha256: str | None = None,
) -> tuple[list[tuple[str, str]], bytes]:
    headers = {"X-Amz-Target": TARGET, "Content-Type": "application/x-amz-json-1.1"}
    if content_sha256 is not None:  # signed as a header, and as the canonical payload hash
        headers["X-Amz-Content-SHA256"] = content_sha256
    request = AWSRequest(method="POST", url=url, data=body, headers=headers)
    SigV4Auth(Credentials(key, secret), service, region).add_auth(request)
    headers = [("Host", url.split("/")[2]), *request.headers.items()]
    return headers, body


def check(headers: list[tuple[str, str]], body: bytes, **kw: object) -> object:
    return verify(STORE, method="POST", path_qs="/", headers=headers, body=body, **kw)  # type: ignore[arg-type]


def code_of(headers: list[tuple[str, str]], body: bytes, **kw: object) -> ApiError:
    with pytest.raises(ApiError) as info:
        check(headers, body, **kw)
    return info.value


def test_accepts_botocore_signature_and_reports_account_and_region() -> None:
    headers, body = signed(b'{"NextToken": "x"}')
    verified = check(headers, body)
    assert verified.principal.account_id == "111111111111"  # type: ignore[attr-defined]
    assert verified.region == "eu-west-1"  # type: ignore[attr-defined]


def test_second_account_is_its_own_principal() -> None:
    headers, body = signed(key="AKIDBOB", secret="other", region="us-east-2")
    verified = check(headers, body)
    assert verified.principal.account_id == "222222222222"  # type: ignore[attr-defined]
    assert verified.principal.identity_arn == "arn:aws:iam::222222222222:user/bob"  # type: ignore[attr-defined]


def test_unsigned_request_is_missing_authentication_token() -> None:
    err = code_of([("Host", "x"), ("X-Amz-Target", TARGET)], b"{}")
    assert (err.code, err.message) == (
        "MissingAuthenticationTokenException",
        "Missing Authentication Token",
    )


def test_unknown_access_key_is_unrecognized_client() -> None:
    headers, body = signed(key="AKIDNOBODY")
    assert code_of(headers, body).code == "UnrecognizedClientException"


def test_wrong_secret_is_invalid_signature() -> None:
    headers, body = signed(secret="guess")
    err = code_of(headers, body)
    assert err.code == "InvalidSignatureException"
    assert "does not match" in err.message


def test_tampered_body_is_invalid_signature() -> None:
    headers, _ = signed(b'{"Name": "a"}')
    assert code_of(headers, b'{"Name": "b"}').code == "InvalidSignatureException"


def test_tampered_signed_header_is_invalid_signature() -> None:
    headers, body = signed()
    headers = [(k, v.replace("ListTrails", "DeleteTrail")) for k, v in headers]
    assert code_of(headers, body).code == "InvalidSignatureException"


def test_service_scope_must_be_cloudtrail() -> None:
    headers, body = signed(service="s3")
    err = code_of(headers, body)
    assert err.code == "InvalidSignatureException"
    assert "cloudtrail" in err.message


@pytest.mark.parametrize("region", ["xx-fake-9", "us-east-7", "", "US-EAST-1"])
def test_region_must_exist(region: str) -> None:
    headers, body = signed(region=region)
    err = code_of(headers, body)
    assert err.code in {"InvalidSignatureException", "IncompleteSignatureException"}


@pytest.mark.parametrize("region", ["us-east-1", "eu-central-1", "us-gov-west-1", "cn-north-1"])
def test_real_regions_are_accepted(region: str) -> None:
    headers, body = signed(region=region)
    assert check(headers, body).region == region  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("shift", "wording"),
    [
        (dt.timedelta(minutes=6), "Signature expired: "),
        (-dt.timedelta(minutes=6), "not yet current"),
    ],
)
def test_clock_skew_over_five_minutes_is_rejected(shift: dt.timedelta, wording: str) -> None:
    headers, body = signed()
    err = code_of(headers, body, now=dt.datetime.now(dt.UTC) + shift)
    assert err.code == "InvalidSignatureException"
    assert wording in err.message
    if shift > dt.timedelta(0):
        assert err.message.endswith(" - 5 min.)")


def test_clock_skew_within_five_minutes_is_accepted() -> None:
    headers, body = signed()
    check(headers, body, now=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=4))


def test_malformed_authorization_is_incomplete_signature() -> None:
    headers, body = signed()
    broken = [
        (k, "AWS4-HMAC-SHA256 Credential=AKIDALICE/x") if k == "Authorization" else (k, v)
        for k, v in headers
    ]
    assert code_of(broken, body).code == "IncompleteSignatureException"
    other = [(k, "Basic abc") if k == "Authorization" else (k, v) for k, v in headers]
    assert code_of(other, body).code == "IncompleteSignatureException"


def test_content_sha256_must_match_body() -> None:
    headers, body = signed()
    headers.append(("X-Amz-Content-SHA256", "0" * 64))
    assert code_of(headers, body).code == "InvalidSignatureException"


def test_a_signature_over_unsigned_payload_does_not_match() -> None:
    headers, body = signed(b'{"Name": "t"}', content_sha256="UNSIGNED-PAYLOAD")
    err = code_of(headers, body)
    assert err.code == "InvalidSignatureException"
    assert err.message.startswith("The request signature we calculated does not match")
    data_headers, body = signed(b"{}", service="cloudtrail-data", content_sha256="UNSIGNED-PAYLOAD")
    assert code_of(data_headers, body, service="cloudtrail-data").code == (
        "InvalidSignatureException"
    )


def test_a_declared_payload_hash_that_matches_the_body_is_accepted() -> None:
    import hashlib

    body = b'{"Name": "t"}'
    headers, body = signed(body, content_sha256=hashlib.sha256(body).hexdigest())
    assert check(headers, body).principal.account_id == "111111111111"  # type: ignore[attr-defined]


def test_the_data_plane_is_signed_for_cloudtrail_data() -> None:
    headers, body = signed(service="cloudtrail-data")
    assert check(headers, body, service="cloudtrail-data").region == "eu-west-1"  # type: ignore[attr-defined]
    err = code_of(headers, body)  # the control plane wants its own signing name
    assert err.code == "InvalidSignatureException" and "'cloudtrail'" in err.message


def test_credentials_file(tmp_path: Path) -> None:
    path = tmp_path / "creds.json"
    path.write_text(
        '{"credentials": [{"AccessKeyId": "K", "SecretAccessKey": "S", "AccountId": "333333333333"}]}'
    )
    store = CredentialStore.from_file(path)
    assert store.get("K").principal.account_id == "333333333333"  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="12 digits"):
        CredentialStore.from_document(
            {"credentials": [{"AccessKeyId": "K", "SecretAccessKey": "S", "AccountId": "1"}]}
        )


def test_credentials_file_names_the_keys_iam_identity() -> None:
    store = CredentialStore.from_document(
        {
            "credentials": [
                {
                    "AccessKeyId": "AKIAIOSFODNN7EXAMPLE",
                    "SecretAccessKey": "S",
                    "AccountId": "111122223333",
                    "Arn": "arn:aws:iam::111122223333:user/Alice",
                    "PrincipalId": "AIDAJ45Q7YFFAREXAMPLE",
                }
            ]
        }
    )
    p = store.get("AKIAIOSFODNN7EXAMPLE").principal  # type: ignore[union-attr]
    assert (p.arn, p.principal_id) == (
        "arn:aws:iam::111122223333:user/Alice",
        "AIDAJ45Q7YFFAREXAMPLE",
    )
    entry = {"AccessKeyId": "K", "SecretAccessKey": "S", "AccountId": "111122223333"}
    with pytest.raises(ValueError, match=r"credentials\[0\]\.PrincipalId must be a non-empty"):
        CredentialStore.from_document({"credentials": [{**entry, "PrincipalId": 7}]})
    with pytest.raises(ValueError, match=r"Arn must be an ARN of account 111122223333"):
        CredentialStore.from_document(
            {"credentials": [{**entry, "Arn": "arn:aws:iam::999999999999:user/Bob"}]}
        )


def test_default_store_is_the_local_stack_key() -> None:
    cred = CredentialStore.default().get("testing")
    assert cred is not None
    assert (cred.secret_access_key, cred.principal.account_id) == ("testing", "123456789012")


def test_a_deployment_serves_the_regions_of_its_partition_only() -> None:
    """Its writer's identity exists in one partition: a trail in another could never be
    delivered, so its region is refused at the door."""
    headers, body = signed(region="cn-north-1")
    assert check(headers, body, partition="aws-cn")
    refused = code_of(headers, body, partition="aws")
    assert refused.code == "InvalidSignatureException"
    assert "not 'cn-north-1'. This endpoint serves the regions of partition aws" in refused.message
    gov, body = signed(region="us-gov-west-1")
    assert check(gov, body, partition="aws-us-gov")
    assert code_of(gov, body, partition="aws-cn").code == "InvalidSignatureException"
