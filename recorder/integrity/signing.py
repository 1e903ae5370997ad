"""Digest signing keys: RSA-2048, one key ring per region, SHA256withRSA signatures.

A digest is signed with the key that was valid at its ``digestEndTime``, so
re-signing a replayed digest picks the same key and, PKCS#1 v1.5 being
deterministic, yields the same signature bytes: the replayed object overwrites
itself exactly. Rotation only ever adds a key that starts at the rotation time;
keys never change their validity, so the public keys listed for a past time
range stay the same.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from recorder.integrity.envelope import open_sealed, seal
from recorder.integrity.times import format_time, parse_time, utc

SIGNATURE_ALGORITHM = "SHA256withRSA"
_RING_PURPOSE = "cloudtrail-digest-key-ring"
KEY_SIZE = 2048
#: How often a region gets a new signing key, and how long each key stays valid.
#: CloudTrail's published keys are valid for 30 days and overlap; the overlap
#: means a digest that closes just before a rotation can still be signed late.
ROTATE_EVERY = dt.timedelta(days=20)
KEY_LIFETIME = dt.timedelta(days=30)
#: A region's first key is valid from this long before it was made. A digest is
#: signed with the key valid at its window's *end*, which has passed by the time
#: the window closes (and a digester may be catching up on a backlog): without
#: this the first window of a fresh ring had no key at all. Nothing was signed in
#: the region before its first key, so backdating changes nothing a validator saw.
FIRST_KEY_BACKDATE = dt.timedelta(days=1)


def string_to_sign(
    digest_end_time: str,
    bucket: str,
    key: str,
    digest_sha256: str,
    previous_signature: str | None,
) -> bytes:
    """The data signing string, built as validation.py builds it.

    ``previous_signature`` None becomes the text ``null`` (a starting digest),
    matching CloudTrail's Java implementation.
    """
    previous = "null" if previous_signature is None else previous_signature
    return f"{digest_end_time}\n{bucket}/{key}\n{digest_sha256}\n{previous}".encode()


def fingerprint(public_der: bytes) -> str:
    """``digestPublicKeyFingerprint``/``Fingerprint``: MD5 hex of the PKCS#1 DER.

    validate-logs only matches this string between the digest and
    ListPublicKeys; 32 hex digits is the shape CloudTrail publishes.
    """
    return hashlib.md5(public_der, usedforsecurity=False).hexdigest()


@dataclass(frozen=True, slots=True)
class PublicKey:
    """One ListPublicKeys entry. ``der`` is kept unparsed: a validator must be able
    to report a key that does not load, as validate-logs does."""

    fingerprint: str
    der: bytes  # PKCS#1 RSAPublicKey, DER
    validity_start: dt.datetime
    validity_end: dt.datetime

    def to_api(self) -> dict[str, Any]:
        """The entry in a JSON 1.1 ListPublicKeys response.

        ``Value`` is a blob, so on the wire it is base64 of the DER: boto3 hands
        callers the DER, and the AWS CLI (which keeps blobs as text) hands its
        validator the base64 text it expects. Times are epoch seconds.
        """
        return {
            "Value": base64.b64encode(self.der).decode(),
            "ValidityStartTime": self.validity_start.timestamp(),
            "ValidityEndTime": self.validity_end.timestamp(),
            "Fingerprint": self.fingerprint,
        }

    @classmethod
    def from_api(cls, entry: Mapping[str, Any]) -> PublicKey:
        """Read a ListPublicKeys entry as boto3 (``Value`` DER bytes, datetimes) or the
        raw JSON / AWS CLI (``Value`` base64 text, epoch numbers) delivers it."""
        value = entry["Value"]
        der = base64.b64decode(value) if isinstance(value, str) else bytes(value)
        return cls(
            fingerprint=str(entry["Fingerprint"]),
            der=der,
            validity_start=_api_time(entry.get("ValidityStartTime")),
            validity_end=_api_time(entry.get("ValidityEndTime")),
        )

    def overlaps(self, start: dt.datetime, end: dt.datetime) -> bool:
        return self.validity_start <= utc(end) and utc(start) < self.validity_end


def _api_time(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return utc(value)
    if value is None:
        return dt.datetime.min.replace(tzinfo=dt.UTC)
    return dt.datetime.fromtimestamp(float(value), dt.UTC)


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A private key and the time range in which it signs digests: [not_before, not_after)."""

    private_key: rsa.RSAPrivateKey = field(repr=False)
    not_before: dt.datetime
    not_after: dt.datetime

    def __post_init__(self) -> None:
        if self.private_key.key_size < KEY_SIZE:
            raise ValueError(f"signing keys must be RSA-{KEY_SIZE} or larger")
        object.__setattr__(self, "not_before", utc(self.not_before))
        object.__setattr__(self, "not_after", utc(self.not_after))
        if self.not_after <= self.not_before:
            raise ValueError("a signing key's validity must end after it starts")

    @classmethod
    def generate(cls, not_before: dt.datetime, not_after: dt.datetime) -> SigningKey:
        return cls(rsa.generate_private_key(65537, KEY_SIZE), not_before, not_after)

    @classmethod
    def from_pem(
        cls,
        pem: bytes,
        not_before: dt.datetime,
        not_after: dt.datetime,
        password: bytes | None = None,
    ) -> SigningKey:
        """Load an operator-supplied private key (PKCS#8 or traditional, optionally encrypted)."""
        key = serialization.load_pem_private_key(pem, password=password)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("digest signing keys must be RSA keys")
        return cls(key, not_before, not_after)

    def to_pem(self, password: bytes | None = None) -> bytes:
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password)
            if password
            else serialization.NoEncryption()
        )
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )

    @property
    def public_der(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.PKCS1
        )

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_der)

    @property
    def public_key(self) -> PublicKey:
        return PublicKey(self.fingerprint, self.public_der, self.not_before, self.not_after)

    def valid_at(self, at: dt.datetime) -> bool:
        return self.not_before <= utc(at) < self.not_after

    def sign(self, message: bytes) -> bytes:
        """RSA PKCS#1 v1.5 over SHA-256: deterministic for a given key and message."""
        return self.private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())


class Signer(Protocol):
    """What the chain needs from a key store: the key that signs at a given time."""

    @property
    def region(self) -> str: ...

    def key_for(self, at: dt.datetime) -> SigningKey: ...


class NoSigningKeyError(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class KeyRing:
    """A region's signing keys. Immutable: rotation returns a new ring."""

    region: str
    keys: tuple[SigningKey, ...] = ()

    def key_for(self, at: dt.datetime) -> SigningKey:
        """The newest key valid at ``at`` (a digest's end time)."""
        valid = [k for k in self.keys if k.valid_at(at)]
        if not valid:
            raise NoSigningKeyError(f"no signing key in {self.region} valid at {utc(at)}")
        return max(valid, key=lambda k: (k.not_before, k.fingerprint))

    def public_keys(self, start: dt.datetime, end: dt.datetime) -> list[PublicKey]:
        """ListPublicKeys: the keys whose validity overlaps [start, end], oldest first."""
        found = [k.public_key for k in self.keys if k.public_key.overlaps(start, end)]
        return sorted(found, key=lambda p: (p.validity_start, p.fingerprint))

    def with_key(self, key: SigningKey) -> KeyRing:
        if any(k.fingerprint == key.fingerprint for k in self.keys):
            return self
        return KeyRing(self.region, (*self.keys, key))

    def rotation_due(
        self,
        now: dt.datetime,
        rotate_every: dt.timedelta = ROTATE_EVERY,
        lifetime: dt.timedelta = KEY_LIFETIME,
    ) -> bool:
        """No key valid at ``now``, or the newest one was made ``rotate_every`` ago.

        A key's making time is ``not_after - lifetime`` (the first key of a ring is
        backdated, so its ``not_before`` says less)."""
        valid = [k for k in self.keys if k.valid_at(now)]
        if not valid:
            return True
        return max(k.not_after for k in valid) - lifetime + rotate_every <= utc(now)

    def rotate_if_due(
        self,
        now: dt.datetime,
        rotate_every: dt.timedelta = ROTATE_EVERY,
        lifetime: dt.timedelta = KEY_LIFETIME,
    ) -> KeyRing:
        """Add a fresh key valid from ``now`` when the newest one is ``rotate_every`` old
        (the first key of an empty ring from ``now - FIRST_KEY_BACKDATE``).

        Old keys keep their windows, so digests they signed stay verifiable and
        listed. ``lifetime`` should exceed ``rotate_every`` so the outgoing key
        can still sign a digest that closed just before the rotation.

        The new key exists only in the returned ring: persist it (see
        :meth:`to_encrypted_bytes`) before any digest is signed with it, or a
        crash loses the private key while its digests stay in S3, unverifiable.
        """
        if not self.rotation_due(now, rotate_every, lifetime):
            return self
        start = utc(now)
        first = start - FIRST_KEY_BACKDATE if not self.keys else start
        return self.with_key(SigningKey.generate(first, start + lifetime))

    def pruned(self, before: dt.datetime) -> KeyRing:
        """Drop keys that expired before ``before`` (their digests then no longer validate)."""
        return KeyRing(self.region, tuple(k for k in self.keys if k.not_after > utc(before)))

    def to_encrypted_bytes(self, data_key: bytes, encrypted_data_key: bytes = b"") -> bytes:
        """The ring, private keys included, sealed under a data key (see ``envelope``).

        ``encrypted_data_key`` is KMS's ciphertext of ``data_key``; it is stored
        alongside so :func:`recorder.integrity.envelope.encrypted_data_key` can
        recover it for KMS Decrypt before :meth:`from_encrypted_bytes`.
        """
        doc = {
            "region": self.region,
            "keys": [
                {
                    "notBefore": format_time(k.not_before),
                    "notAfter": format_time(k.not_after),
                    "pkcs8": base64.b64encode(
                        k.private_key.private_bytes(
                            serialization.Encoding.DER,
                            serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption(),
                        )
                    ).decode(),
                }
                for k in self.keys
            ],
        }
        plaintext = json.dumps(doc, separators=(",", ":")).encode()
        return seal(plaintext, data_key, encrypted_data_key, _RING_PURPOSE)

    @classmethod
    def from_encrypted_bytes(cls, blob: bytes, data_key: bytes) -> KeyRing:
        doc = json.loads(open_sealed(blob, data_key, _RING_PURPOSE))
        keys = []
        for k in doc["keys"]:
            private = serialization.load_der_private_key(base64.b64decode(k["pkcs8"]), None)
            if not isinstance(private, rsa.RSAPrivateKey):
                raise ValueError("key ring holds a non-RSA key")
            keys.append(SigningKey(private, parse_time(k["notBefore"]), parse_time(k["notAfter"])))
        return cls(str(doc["region"]), tuple(keys))
