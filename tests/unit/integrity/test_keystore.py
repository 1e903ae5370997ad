"""The key store: a key valid for the closing window from the first hour on, and a ring
shared by several digesters without lost keys. S3 and KMS are in-memory stand-ins
with the calls' shapes (NoSuchKey as botocore raises it, KMS data keys)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
from typing import Any

from botocore.exceptions import ClientError

from recorder.integrity.keystore import KeyStore
from recorder.integrity.signing import KeyRing, SigningKey
from recorder.settings import Settings

T0 = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
REGION = "eu-west-1"


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    async def read(self) -> bytes:
        await asyncio.sleep(0)
        return self._data


class MemoryS3:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    async def list_objects_v2(self, Bucket: str, Prefix: str, **_: Any) -> dict[str, Any]:
        await asyncio.sleep(0)
        keys = sorted(k for k in self.objects if k.startswith(Prefix))
        return {"Contents": [{"Key": k} for k in keys], "IsTruncated": False}

    async def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        await asyncio.sleep(0)
        if Key not in self.objects:
            raise ClientError({"Error": {"Code": "NoSuchKey"}}, "GetObject")
        return {"Body": _Body(self.objects[Key])}

    async def put_object(self, Bucket: str, Key: str, Body: bytes, **_: Any) -> dict[str, Any]:
        await asyncio.sleep(0)
        self.objects[Key] = Body
        return {}


class MemoryKms:
    async def generate_data_key(self, KeyId: str, KeySpec: str) -> dict[str, bytes]:
        plain = os.urandom(32)
        return {"Plaintext": plain, "CiphertextBlob": b"wrapped:" + plain}

    async def decrypt(self, CiphertextBlob: bytes) -> dict[str, bytes]:
        return {"Plaintext": CiphertextBlob.removeprefix(b"wrapped:")}


def store(s3: MemoryS3, **settings: Any) -> KeyStore:
    values = {"signing_key_rotate_every": 3600.0, "signing_key_lifetime": 7200.0, **settings}
    s = Settings(**values)
    return KeyStore(s, s3, MemoryKms())


async def test_a_fresh_ring_has_a_key_for_the_window_that_is_closing() -> None:
    """The first digest is signed after its window ended: the key must cover that end."""
    s3 = MemoryS3()
    ring = await store(s3).prepare(REGION, T0)
    window_end = T0 - dt.timedelta(minutes=10)  # closed before the ring was made
    assert ring.key_for(window_end).not_before <= window_end
    assert sorted(s3.objects) == [
        f"keys/{REGION}/{ring.keys[0].fingerprint}.bin",
        f"public/{REGION}/{ring.keys[0].fingerprint}.json",
    ]
    # A restarted digester reads the same key back, sealed under KMS.
    again = await store(s3).signer(REGION, T0 + dt.timedelta(minutes=1))
    assert [k.fingerprint for k in again.keys] == [ring.keys[0].fingerprint]


async def test_digesters_rotating_at_once_keep_every_key_listed() -> None:
    s3 = MemoryS3()
    a, b = store(s3), store(s3)
    first = await a.prepare(REGION, T0)
    assert (await b.prepare(REGION, T0)).keys[0].fingerprint == first.keys[0].fingerprint
    due = T0 + dt.timedelta(hours=1)
    ring_a, ring_b = await asyncio.gather(a.signer(REGION, due), b.signer(REGION, due))
    signed = {ring_a.key_for(due).fingerprint, ring_b.key_for(due).fingerprint}
    listed = {k.fingerprint for k in await a.public_keys(REGION, T0, due)}
    # Whether one or both rotated, every key either signs with is stored and listed.
    assert signed <= listed
    assert first.keys[0].fingerprint in listed
    # After a reload both sign with the same (newest) key.
    later = due + dt.timedelta(minutes=1)
    a2, b2 = store(s3, signing_key_reload=0.0), store(s3, signing_key_reload=0.0)
    ka = (await a2.signer(REGION, later)).key_for(later)
    kb = (await b2.signer(REGION, later)).key_for(later)
    assert ka.fingerprint == kb.fingerprint


async def test_rotation_by_another_digester_is_picked_up_on_reload() -> None:
    s3 = MemoryS3()
    a, b = store(s3, signing_key_reload=0.0), store(s3, signing_key_reload=0.0)
    await a.prepare(REGION, T0)
    await b.prepare(REGION, T0)
    due = T0 + dt.timedelta(hours=1)
    rotated = await a.signer(REGION, due)
    assert len(rotated.keys) == 2
    seen = await b.signer(REGION, due)  # reloads first: no second rotation
    assert {k.fingerprint for k in seen.keys} == {k.fingerprint for k in rotated.keys}
    assert len([k for k in s3.objects if k.startswith("keys/")]) == 2


async def test_rings_stored_by_the_previous_layout_are_read() -> None:
    s3 = MemoryS3()
    old = SigningKey.generate(T0 - dt.timedelta(days=1), T0 + dt.timedelta(days=29))
    plain = os.urandom(32)
    s3.objects[f"rings/{REGION}.bin"] = KeyRing(REGION, (old,)).to_encrypted_bytes(
        plain, b"wrapped:" + plain
    )
    s3.objects[f"public/{REGION}.json"] = json.dumps([old.public_key.to_api()]).encode()
    ks = store(s3, signing_key_rotate_every=20 * 86400.0, signing_key_lifetime=30 * 86400.0)
    ring = await ks.signer(REGION, T0)
    assert [k.fingerprint for k in ring.keys] == [old.fingerprint]  # not due: no new key
    listed = await ks.public_keys(REGION, T0, T0 + dt.timedelta(hours=1))
    assert [k.fingerprint for k in listed] == [old.fingerprint]
