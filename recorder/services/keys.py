"""ListPublicKeys for the control API: the digest public keys, refreshed from the key store.

The API answers from memory (its handlers must not block); a background task reads
the public keys the digester stores beside its key rings (``public/<region>.json``
in the keys bucket), or the operator's PEM key, every few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

import aioboto3
from botocore.exceptions import BotoCoreError, ClientError

from recorder.integrity.keystore import KeyStore
from recorder.integrity.signing import PublicKey
from recorder.obs.logging import get_logger
from recorder.settings import Settings

log = get_logger("recorder.keys")


class StoredPublicKeys:
    def __init__(self, settings: Settings, refresh_every: float = 2.0) -> None:
        self.settings = settings
        self.refresh_every = refresh_every
        self._keys: dict[str, list[PublicKey]] = {}
        self.ready = asyncio.Event()
        self.ready.set()

    def public_keys(
        self, region: str, account_id: str, start: dt.datetime, end: dt.datetime
    ) -> Sequence[Mapping[str, Any]]:
        return [
            {
                "Value": k.der,
                "ValidityStartTime": k.validity_start,
                "ValidityEndTime": k.validity_end,
                "Fingerprint": k.fingerprint,
            }
            for k in self._keys.get(region, self._keys.get("*", []))
            if k.overlaps(start, end)
        ]

    async def run(self, stop: asyncio.Event) -> None:
        session = aioboto3.Session()
        async with session.client("s3", **self.settings.aws_client_kwargs()) as s3:
            store = KeyStore(self.settings, s3)
            while not stop.is_set():
                try:
                    await self._refresh(store, s3)
                except (ClientError, BotoCoreError, OSError, ValueError) as exc:
                    log.warning("public_keys_refresh_failed", error=repr(exc))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.refresh_every)

    async def _refresh(self, store: KeyStore, s3: Any) -> None:
        if self.settings.signing_key_file is not None:
            far = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)
            epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
            keys = await store.public_keys(self.settings.aws_region, epoch, far)
            self._keys = {"*": keys}
            return
        try:
            listing = await s3.list_objects_v2(Bucket=store.bucket, Prefix="public/")
        except ClientError:
            return  # no keys bucket yet: the digester has not signed anything
        found: dict[str, list[PublicKey]] = {}
        for obj in listing.get("Contents", []):
            region = obj["Key"].removeprefix("public/").removesuffix(".json")
            body = await (await s3.get_object(Bucket=store.bucket, Key=obj["Key"]))["Body"].read()
            found[region] = [PublicKey.from_api(e) for e in json.loads(body)]
        self._keys = found
