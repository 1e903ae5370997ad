"""Every delivered object carries the ACL and, with SSE-KMS, the encryption context the
guide's bucket and key policies demand of CloudTrail's requests."""

from __future__ import annotations

import base64
import json

import pytest

from recorder.policies.requests import object_put_params

TRAIL = "arn:aws:cloudtrail:us-east-1:111122223333:trail/t"


def test_an_sse_s3_put_has_the_bucket_owners_acl() -> None:
    assert object_put_params(trail_arn=TRAIL) == {
        "ACL": "bucket-owner-full-control",
        "ServerSideEncryption": "AES256",
    }
    assert object_put_params() == object_put_params(trail_arn=TRAIL)  # digests: no trail needed


def test_an_sse_kms_put_names_the_trail_in_its_encryption_context() -> None:
    key = "arn:aws:kms:us-east-1:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    params = object_put_params(trail_arn=TRAIL, kms_key_id=key)
    assert params["ACL"] == "bucket-owner-full-control"
    assert params["ServerSideEncryption"] == "aws:kms"
    assert params["SSEKMSKeyId"] == key
    context = json.loads(base64.b64decode(params["SSEKMSEncryptionContext"]))
    assert context == {"aws:cloudtrail:arn": TRAIL}


def test_an_sse_kms_put_without_a_trail_is_refused() -> None:
    with pytest.raises(ValueError, match="encryption context"):
        object_put_params(kms_key_id="alias/k")
