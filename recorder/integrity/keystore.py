"""Where digest signing keys live: I/O around the pure :class:`KeyRing`.

Two modes:

* ``RECORDER_SIGNING_KEY_FILE``: the operator supplies one RSA private key (PEM,
  optionally password-protected); it signs for every region and never rotates here.
* otherwise a ring per region is generated, rotated on schedule, and stored in S3
  sealed under a data key from KMS (``GenerateDataKey`` on ``keys_kms_key_id``); the
  public keys are stored beside it in clear so ListPublicKeys needs no KMS access.

Storage is append-only, one object per key, so several digesters can share a ring
without a lock: ``keys/<region>/<fingerprint>.bin`` (the private key, sealed) and
``public/<region>/<fingerprint>.json`` (its ListPublicKeys entry). Two digesters
that rotate at the same moment each add a key; both stay stored and listed, so
every digest either of them signed still validates, and after the next reload
both sign with the same (newest) key. Nothing is ever overwritten or deleted.
Rings stored by older versions (``rings/<region>.bin``, ``public/<region>.json``)
are read as well.

A new key is persisted before it signs anything: a digest whose key was lost could
never be verified.

Each region also has one Ed25519 *log key* that signs the checkpoints of the Merkle
logs (``recorder.integrity.tlog``): ``tlog/<region>.bin`` (sealed the same way) and
``tlog/<region>.pub`` (the raw public key, base64; outside ``public/``, which ListPublicKeys reads). It is made once, with a
conditional put, so two digesters that make it at the same moment agree on the one
stored. With ``RECORDER_SIGNING_KEY_FILE`` it is derived from that key (HKDF-SHA256
over its private DER): no second secret to hand out. A region's ring is made when the digester starts (or first
meets the region), not when the first digest is due, and its first key is
backdated (``FIRST_KEY_BACKDATE``) so the window that is closing has a key.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from recorder.integrity.envelope import encrypted_data_key, open_sealed, seal
from recorder.integrity.signing import KeyRing, PublicKey, SigningKey
from recorder.obs.logging import get_logger
from recorder.settings import Settings

log = get_logger("recorder.keystore")

_FOREVER = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)
_LOG_KEY_PURPOSE = "merkle-log-checkpoint-key"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def key_object(region: str, fingerprint: str) -> str:
    return f"keys/{region}/{fingerprint}.bin"


def public_object(region: str, fingerprint: str) -> str:
    return f"public/{region}/{fingerprint}.json"


def region_of_public_object(key: str) -> str:
    """``public/<region>/<fp>.json`` or the older ``public/<region>.json``."""
    rest = key.removeprefix("public/")
    return rest.split("/", 1)[0] if "/" in rest else rest.removesuffix(".json")


def read_public_entries(body: bytes) -> list[PublicKey]:
    """One stored public-key object: a single entry, or the older list of entries."""
    doc = json.loads(body)
    entries = doc if isinstance(doc, list) else [doc]
    return [PublicKey.from_api(e) for e in entries]


@dataclass
class KeyStore:
    settings: Settings
    s3: Any
    kms: Any | None = None
    _rings: dict[str, KeyRing] = field(default_factory=dict)
    _loaded_at: dict[str, float] = field(default_factory=dict)
    _seen: dict[str, set[str]] = field(default_factory=dict)  # region -> object keys read
    _pem_key: SigningKey | None = None
    _log_keys: dict[str, Ed25519PrivateKey] = field(default_factory=dict)

    def __post_init__(self) -> None:
        path = self.settings.signing_key_file
        if path is not None:
            password = self.settings.signing_key_password.encode() or None
            self._pem_key = SigningKey.from_pem(path.read_bytes(), _EPOCH, _FOREVER, password)

    @property
    def bucket(self) -> str:
        return self.settings.keys_bucket

    @property
    def rotate_every(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.settings.signing_key_rotate_every)

    @property
    def lifetime(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.settings.signing_key_lifetime)

    async def ensure_storage(self) -> None:
        """Create the keys bucket and KMS alias when absent (local stacks; needs rights)."""
        if self._pem_key is not None:
            return
        try:
            await self.s3.head_bucket(Bucket=self.bucket)
        except ClientError:
            kw: dict[str, Any] = {"Bucket": self.bucket}
            if self.settings.aws_region != "us-east-1":
                kw["CreateBucketConfiguration"] = {"LocationConstraint": self.settings.aws_region}
            await self.s3.create_bucket(**kw)
            log.info("keys_bucket_created", bucket=self.bucket)
        if self.kms is None:
            return
        alias = self.settings.keys_kms_key_id
        if alias.startswith("alias/"):
            aliases = await self.kms.list_aliases()
            if not any(a["AliasName"] == alias for a in aliases.get("Aliases", [])):
                key = await self.kms.create_key(Description="recorder digest signing keys")
                await self.kms.create_alias(
                    AliasName=alias, TargetKeyId=key["KeyMetadata"]["KeyId"]
                )
                log.info("keys_kms_alias_created", alias=alias)

    async def signer(self, region: str, now: dt.datetime) -> KeyRing:
        """The region's ring, with a key valid ``now``: reloaded from storage when it
        is older than ``signing_key_reload`` (another digester may have rotated), and
        rotated when due; a new key is stored before it is returned."""
        if self._pem_key is not None:
            return KeyRing(region, (self._pem_key,))
        ring = self._rings.get(region)
        stale = time.monotonic() - self._loaded_at.get(region, -1e18)
        if ring is None or stale >= self.settings.signing_key_reload:
            ring = await self._load(region)
        if ring.rotation_due(now, self.rotate_every, self.lifetime):
            ring = await self._load(region)  # someone else may have rotated just now
            rotated = ring.rotate_if_due(now, self.rotate_every, self.lifetime)
            if rotated is not ring:
                (new,) = [k for k in rotated.keys if k not in ring.keys]
                await self._store(region, new)
                log.info(
                    "signing_key_rotated",
                    region=region,
                    fingerprint=new.fingerprint,
                    not_before=new.not_before.isoformat(),
                    keys=len(rotated.keys),
                )
                ring = rotated
        self._rings[region] = ring
        return ring

    prepare = signer  # at start: make the ring before any window of the region closes

    async def public_keys(
        self, region: str, start: dt.datetime, end: dt.datetime
    ) -> list[PublicKey]:
        if self._pem_key is not None:
            key = self._pem_key.public_key
            return [key] if key.overlaps(start, end) else []
        found: dict[str, PublicKey] = {}
        for name in await self._list(f"public/{region}/") + [f"public/{region}.json"]:
            body = await self._get(name)
            if body is not None:
                for k in read_public_entries(body):
                    found[k.fingerprint] = k
        return sorted(
            (k for k in found.values() if k.overlaps(start, end)),
            key=lambda k: (k.validity_start, k.fingerprint),
        )

    async def log_key(self, region: str) -> Ed25519PrivateKey:
        """The region's Ed25519 key that signs Merkle log checkpoints."""
        key = self._log_keys.get(region)
        if key is not None:
            return key
        if self._pem_key is not None:
            der = self._pem_key.private_key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            seed = HKDF(hashes.SHA256(), 32, b"recorder tlog", region.encode()).derive(der)
            key = Ed25519PrivateKey.from_private_bytes(seed)
        else:
            key = await self._stored_log_key(region)
        self._log_keys[region] = key
        return key

    async def log_public_key(self, region: str) -> bytes:
        key = await self.log_key(region)
        return key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    async def _stored_log_key(self, region: str) -> Ed25519PrivateKey:
        assert self.kms is not None, "a KMS client is needed to keep the log key"
        name = f"tlog/{region}.bin"
        blob = await self._get(name)
        if blob is None:
            new = Ed25519PrivateKey.generate()
            raw = new.private_bytes(
                serialization.Encoding.Raw,
                serialization.PrivateFormat.Raw,
                serialization.NoEncryption(),
            )
            dk = await self.kms.generate_data_key(
                KeyId=self.settings.keys_kms_key_id, KeySpec="AES_256"
            )
            sealed = seal(raw, dk["Plaintext"], dk["CiphertextBlob"], _LOG_KEY_PURPOSE)
            try:
                await self.s3.put_object(Bucket=self.bucket, Key=name, Body=sealed, IfNoneMatch="*")
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in ("PreconditionFailed", "412"):
                    raise
                log.info("log_key_made_elsewhere", region=region)  # theirs is the one
            else:
                public = new.public_key().public_bytes(
                    serialization.Encoding.Raw, serialization.PublicFormat.Raw
                )
                await self.s3.put_object(
                    Bucket=self.bucket,
                    Key=f"tlog/{region}.pub",
                    Body=base64.b64encode(public) + b"\n",
                    ContentType="text/plain",
                )
                log.info("log_key_made", region=region)
            blob = await self._get(name)
            if blob is None:
                raise RuntimeError(f"the log key of {region} was stored and is gone")
        plain = (await self.kms.decrypt(CiphertextBlob=encrypted_data_key(blob)))["Plaintext"]
        return Ed25519PrivateKey.from_private_bytes(open_sealed(blob, plain, _LOG_KEY_PURPOSE))

    # -- storage ------------------------------------------------------------------------
    async def _list(self, prefix: str) -> list[str]:
        names: list[str] = []
        kw: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        while True:
            page = await self.s3.list_objects_v2(**kw)
            names += [o["Key"] for o in page.get("Contents", [])]
            if not page.get("IsTruncated"):
                return names
            kw["ContinuationToken"] = page["NextContinuationToken"]

    async def _get(self, name: str) -> bytes | None:
        try:
            obj = await self.s3.get_object(Bucket=self.bucket, Key=name)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                return None
            raise
        return bytes(await obj["Body"].read())

    async def _open(self, blob: bytes) -> KeyRing:
        assert self.kms is not None, "a KMS client is needed to open stored signing keys"
        plain = (await self.kms.decrypt(CiphertextBlob=encrypted_data_key(blob)))["Plaintext"]
        return KeyRing.from_encrypted_bytes(blob, plain)

    async def _load(self, region: str) -> KeyRing:
        """The union of the region's stored keys; objects read before are not read again
        (keys are immutable)."""
        ring = self._rings.get(region) or KeyRing(region)
        seen = self._seen.setdefault(region, set())
        for name in [f"rings/{region}.bin", *await self._list(f"keys/{region}/")]:
            if name in seen:
                continue
            blob = await self._get(name)
            if blob is None:
                continue
            for key in (await self._open(blob)).keys:
                ring = ring.with_key(key)
            seen.add(name)
        self._loaded_at[region] = time.monotonic()
        self._rings[region] = ring
        return ring

    async def _store(self, region: str, key: SigningKey) -> None:
        assert self.kms is not None, "a KMS client is needed to store signing keys"
        dk = await self.kms.generate_data_key(
            KeyId=self.settings.keys_kms_key_id, KeySpec="AES_256"
        )
        blob = KeyRing(region, (key,)).to_encrypted_bytes(dk["Plaintext"], dk["CiphertextBlob"])
        name = key_object(region, key.fingerprint)
        await self.s3.put_object(Bucket=self.bucket, Key=name, Body=blob)
        await self.s3.put_object(
            Bucket=self.bucket,
            Key=public_object(region, key.fingerprint),
            Body=json.dumps(key.public_key.to_api()).encode(),
            ContentType="application/json",
        )
        self._seen.setdefault(region, set()).add(name)
