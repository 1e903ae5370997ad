"""Signing keys: SHA256withRSA as validate-logs verifies it, ListPublicKeys form, rotation, storage."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json

import pytest
import rsa as pyrsa
from awscli.customizations.cloudtrail.validation import DigestError, Sha256RSADigestValidator
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import rsa as crsa

from recorder.integrity import (
    EnvelopeError,
    KeyRing,
    NoSigningKeyError,
    PublicKey,
    SigningKey,
    encrypted_data_key,
    string_to_sign,
)
from tests.unit.integrity.fakes import T0

DAY = dt.timedelta(days=1)
DATA_KEY = bytes(range(32))


def test_string_to_sign_layout() -> None:
    assert string_to_sign("2015-08-12T04:01:31Z", "b", "k.json.gz", "4f" * 32, None) == (
        b"2015-08-12T04:01:31Z\nb/k.json.gz\n" + b"4f" * 32 + b"\nnull"
    )
    assert string_to_sign("2015-08-12T04:01:31Z", "b", "k", "00", "6e85").endswith(b"\n00\n6e85")


def test_signature_is_what_the_cli_verifies(ring: KeyRing) -> None:
    key = ring.key_for(T0)
    body = json.dumps(
        {"digestEndTime": "2024-05-01T11:00:00Z", "previousDigestSignature": None}
    ).encode()
    data = {
        "digestS3Bucket": "b",
        "digestS3Object": "k",
        "digestEndTime": "2024-05-01T11:00:00Z",
        "previousDigestSignature": None,
        "digestPublicKeyFingerprint": key.fingerprint,
    }
    signed = key.sign(
        string_to_sign("2024-05-01T11:00:00Z", "b", "k", hashlib.sha256(body).hexdigest(), None)
    )
    value = key.public_key.to_api()["Value"]
    Sha256RSADigestValidator().validate("b", "k", value, {**data, "_signature": signed.hex()}, body)
    with pytest.raises(DigestError, match="INVALID: signature verification failed"):
        Sha256RSADigestValidator().validate(
            "b", "k", value, {**data, "_signature": signed.hex()}, body + b" "
        )


def test_pkcs1_v15_is_deterministic(ring: KeyRing) -> None:
    key = ring.key_for(T0)
    assert key.sign(b"same") == key.sign(b"same")
    assert len(key.sign(b"same")) == 256  # RSA-2048


def test_public_key_for_list_public_keys(ring: KeyRing) -> None:
    key = ring.key_for(T0)
    entry = key.public_key.to_api()
    der = base64.b64decode(entry["Value"])
    loaded = pyrsa.PublicKey.load_pkcs1(der, format="DER")  # exactly as validation.py loads it
    assert loaded.n == key.private_key.public_key().public_numbers().n
    assert entry["Fingerprint"] == hashlib.md5(der).hexdigest() == key.fingerprint
    assert len(entry["Fingerprint"]) == 32
    assert entry["ValidityStartTime"] == (T0 - DAY).timestamp()
    assert entry["ValidityEndTime"] == (T0 + 29 * DAY).timestamp()
    # Read back both as raw JSON / the CLI see it and as boto3 does (DER bytes, datetimes).
    assert PublicKey.from_api(entry) == key.public_key
    boto3_entry = {
        "Value": der,
        "Fingerprint": entry["Fingerprint"],
        "ValidityStartTime": T0 - DAY,
        "ValidityEndTime": T0 + 29 * DAY,
    }
    assert PublicKey.from_api(boto3_entry) == key.public_key


def test_rotation_keeps_old_keys_listed_for_their_window() -> None:
    ring = KeyRing("eu-west-1").rotate_if_due(T0)
    [first] = ring.keys
    # A fresh ring's first key also covers windows that ended before it was made.
    assert (first.not_before, first.not_after) == (T0 - DAY, T0 + 30 * DAY)
    assert ring.rotate_if_due(T0 + 19 * DAY) is ring  # not due yet
    ring = ring.rotate_if_due(T0 + 20 * DAY)
    first_, second = ring.keys
    assert first_ is first
    assert (second.not_before, second.not_after) == (T0 + 20 * DAY, T0 + 50 * DAY)
    # The signing key for a digest is the newest one valid at its end time.
    assert ring.key_for(T0) is first
    assert ring.key_for(T0 - dt.timedelta(seconds=1)) is first
    assert ring.key_for(T0 + 20 * DAY - dt.timedelta(seconds=1)) is first
    assert ring.key_for(T0 + 20 * DAY) is second
    assert ring.key_for(T0 + 49 * DAY) is second
    with pytest.raises(NoSigningKeyError, match="no signing key in eu-west-1"):
        ring.key_for(T0 - DAY - dt.timedelta(seconds=1))
    fp = [k.fingerprint for k in ring.keys]
    assert [p.fingerprint for p in ring.public_keys(T0 - DAY, T0 + 2 * DAY)] == fp[:1]
    assert [p.fingerprint for p in ring.public_keys(T0 + 21 * DAY, T0 + 22 * DAY)] == fp
    assert [p.fingerprint for p in ring.public_keys(T0 + 31 * DAY, T0 + 32 * DAY)] == fp[1:]
    assert ring.pruned(T0 + 31 * DAY).keys == (second,)


def test_operator_pem_with_password() -> None:
    key = SigningKey.generate(T0, T0 + DAY)
    pem = key.to_pem(b"s3cret")
    assert b"ENCRYPTED" in pem
    loaded = SigningKey.from_pem(pem, T0, T0 + DAY, password=b"s3cret")
    assert loaded.fingerprint == key.fingerprint
    assert loaded.sign(b"m") == key.sign(b"m")
    with pytest.raises(ValueError):
        SigningKey.from_pem(pem, T0, T0 + DAY, password=b"wrong")
    traditional = key.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    assert SigningKey.from_pem(traditional, T0, T0 + DAY).fingerprint == key.fingerprint


def test_only_rsa_2048_or_larger() -> None:
    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(ValueError, match="must be RSA keys"):
        SigningKey.from_pem(ec_pem, T0, T0 + DAY)
    with pytest.raises(ValueError, match="RSA-2048 or larger"):
        SigningKey(crsa.generate_private_key(65537, 1024), T0, T0 + DAY)
    with pytest.raises(ValueError, match="must end after it starts"):
        SigningKey.generate(T0, T0)


def test_encrypted_key_ring_round_trip(ring: KeyRing) -> None:
    two = ring.with_key(SigningKey.generate(T0 + DAY, T0 + 31 * DAY))
    blob = two.to_encrypted_bytes(DATA_KEY, encrypted_data_key=b"kms-ciphertext-blob")
    private_der = two.keys[0].private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert private_der not in blob
    assert base64.b64encode(private_der) not in blob
    assert encrypted_data_key(blob) == b"kms-ciphertext-blob"
    back = KeyRing.from_encrypted_bytes(blob, DATA_KEY)
    assert back.region == "us-east-2"
    assert [(k.fingerprint, k.not_before, k.not_after) for k in back.keys] == [
        (k.fingerprint, k.not_before, k.not_after) for k in two.keys
    ]
    assert back.key_for(T0 + 2 * DAY).sign(b"m") == two.key_for(T0 + 2 * DAY).sign(b"m")


def test_encrypted_key_ring_refuses_wrong_key_and_tampering(ring: KeyRing) -> None:
    blob = ring.to_encrypted_bytes(DATA_KEY, encrypted_data_key=b"kms")
    with pytest.raises(EnvelopeError, match="wrong data key, or the envelope was altered"):
        KeyRing.from_encrypted_bytes(blob, bytes(32))
    swapped = blob.replace(base64.b64encode(b"kms"), base64.b64encode(b"KMS"))
    assert swapped != blob
    with pytest.raises(EnvelopeError, match="wrong data key, or the envelope was altered"):
        KeyRing.from_encrypted_bytes(swapped, DATA_KEY)
    flipped = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(EnvelopeError, match="wrong data key, or the envelope was altered"):
        KeyRing.from_encrypted_bytes(flipped, DATA_KEY)
    with pytest.raises(EnvelopeError, match="must be 32 bytes"):
        ring.to_encrypted_bytes(b"short")
    with pytest.raises(EnvelopeError, match="not a recorder envelope"):
        KeyRing.from_encrypted_bytes(b"PK\x03\x04", DATA_KEY)
