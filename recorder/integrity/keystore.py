"""Where digest signing keys live: I/O around the pure :class:`KeyRing`.

Two modes:

* ``RECORDER_SIGNING_KEY_FILE``: the operator supplies one RSA private key (PEM,
  optionally password-protected); it signs for every region and never rotates here.
* otherwise a ring per region is generated, rotated on schedule, and stored in S3
  (``s3://<keys_bucket>/rings/<region>.bin``) sealed under a data key from KMS
  (``GenerateDataKey`` on ``keys_kms_key_id``); the public keys are stored beside it
  in clear (``public/<region>.json``) so ListPublicKeys needs no KMS access.

A new key is persisted before it signs anything: a digest whose key was lost could
never be verified.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from recorder.integrity.envelope import encrypted_data_key
from recorder.integrity.signing import KeyRing, PublicKey, SigningKey
from recorder.obs.logging import get_logger
from recorder.settings import Settings

log = get_logger("recorder.keystore")

_FOREVER = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass
class KeyStore:
    settings: Settings
    s3: Any
    kms: Any | None = None
    _rings: dict[str, KeyRing] = field(default_factory=dict)
    _pem_key: SigningKey | None = None

    def __post_init__(self) -> None:
        path = self.settings.signing_key_file
        if path is not None:
            password = self.settings.signing_key_password.encode() or None
            self._pem_key = SigningKey.from_pem(path.read_bytes(), _EPOCH, _FOREVER, password)

    @property
    def bucket(self) -> str:
        return self.settings.keys_bucket

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
        """The region's ring, rotated if due; a new key is stored before it is returned."""
        if self._pem_key is not None:
            return KeyRing(region, (self._pem_key,))
        ring = self._rings.get(region) or await self._load(region) or KeyRing(region)
        rotated = ring.rotate_if_due(now)
        if rotated is not ring:
            await self._store(rotated)
            log.info("signing_key_rotated", region=region, keys=len(rotated.keys))
        self._rings[region] = rotated
        return rotated

    async def public_keys(
        self, region: str, start: dt.datetime, end: dt.datetime
    ) -> list[PublicKey]:
        if self._pem_key is not None:
            key = self._pem_key.public_key
            return [key] if key.overlaps(start, end) else []
        try:
            obj = await self.s3.get_object(Bucket=self.bucket, Key=f"public/{region}.json")
        except ClientError:
            return []
        entries = json.loads(await obj["Body"].read())
        keys = [PublicKey.from_api(e) for e in entries]
        return sorted(
            (k for k in keys if k.overlaps(start, end)),
            key=lambda k: (k.validity_start, k.fingerprint),
        )

    async def _load(self, region: str) -> KeyRing | None:
        try:
            obj = await self.s3.get_object(Bucket=self.bucket, Key=f"rings/{region}.bin")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                return None
            raise
        blob = await obj["Body"].read()
        assert self.kms is not None, "a KMS client is needed to open stored signing keys"
        plain = (await self.kms.decrypt(CiphertextBlob=encrypted_data_key(blob)))["Plaintext"]
        return KeyRing.from_encrypted_bytes(blob, plain)

    async def _store(self, ring: KeyRing) -> None:
        assert self.kms is not None, "a KMS client is needed to store signing keys"
        dk = await self.kms.generate_data_key(
            KeyId=self.settings.keys_kms_key_id, KeySpec="AES_256"
        )
        blob = ring.to_encrypted_bytes(dk["Plaintext"], dk["CiphertextBlob"])
        await self.s3.put_object(Bucket=self.bucket, Key=f"rings/{ring.region}.bin", Body=blob)
        public = [k.public_key.to_api() for k in ring.keys]
        await self.s3.put_object(
            Bucket=self.bucket,
            Key=f"public/{ring.region}.json",
            Body=json.dumps(public).encode(),
            ContentType="application/json",
        )
