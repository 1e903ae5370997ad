"""Envelope encryption for secrets at rest (the digest signing keys), AES-256-GCM.

The caller brings the data key: the digester asks KMS for one (GenerateDataKey)
and passes the plaintext here, and the KMS-encrypted copy is stored in the
envelope's header so that after a restart it can ask KMS to Decrypt it. Keeping
the KMS call out keeps this module pure and testable without an endpoint.

Layout: ``MAGIC | u16 header length | header JSON | nonce (12) | ciphertext+tag``.
The magic and header are authenticated as associated data, so swapping the
stored encrypted data key or the purpose is detected on open.
"""

from __future__ import annotations

import base64
import json
import os
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"RECENV1\n"
_NONCE = 12


class EnvelopeError(ValueError):
    pass


def seal(plaintext: bytes, data_key: bytes, encrypted_data_key: bytes, purpose: str) -> bytes:
    """Encrypt ``plaintext`` under ``data_key`` (32 bytes, as KMS AES_256 data keys are)."""
    _check_key(data_key)
    header = json.dumps(
        {
            "alg": "AES-256-GCM",
            "purpose": purpose,
            "encryptedDataKey": base64.b64encode(encrypted_data_key).decode(),
        },
        separators=(",", ":"),
        sort_keys=True,
    ).encode()
    aad = MAGIC + struct.pack(">H", len(header)) + header
    nonce = os.urandom(_NONCE)
    return aad + nonce + AESGCM(data_key).encrypt(nonce, plaintext, aad)


def open_sealed(blob: bytes, data_key: bytes, purpose: str) -> bytes:
    _check_key(data_key)
    aad, header = _split_header(blob)
    if header.get("purpose") != purpose:
        raise EnvelopeError(f"envelope holds {header.get('purpose')!r}, not {purpose!r}")
    nonce, ciphertext = blob[len(aad) : len(aad) + _NONCE], blob[len(aad) + _NONCE :]
    try:
        return AESGCM(data_key).decrypt(nonce, ciphertext, aad)
    except InvalidTag:
        raise EnvelopeError("wrong data key, or the envelope was altered") from None


def encrypted_data_key(blob: bytes) -> bytes:
    """The KMS ciphertext blob stored with the envelope: what to send to KMS Decrypt."""
    return base64.b64decode(_split_header(blob)[1]["encryptedDataKey"])


def _split_header(blob: bytes) -> tuple[bytes, dict[str, str]]:
    if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + 2:
        raise EnvelopeError("not a recorder envelope")
    (n,) = struct.unpack(">H", blob[len(MAGIC) : len(MAGIC) + 2])
    end = len(MAGIC) + 2 + n
    try:
        header = json.loads(blob[len(MAGIC) + 2 : end])
    except ValueError:
        raise EnvelopeError("envelope header is not JSON") from None
    if not isinstance(header, dict) or len(blob) < end + _NONCE + 16:
        raise EnvelopeError("truncated envelope")
    return blob[:end], header


def _check_key(data_key: bytes) -> None:
    if len(data_key) != 32:
        raise EnvelopeError("the data key must be 32 bytes (AES-256)")
