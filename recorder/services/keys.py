"""ListPublicKeys for the control API: the digest public keys, refreshed from the key store.

The API answers from memory (its handlers must not block); a background task reads
the public keys the digester stores beside its key rings (``public/<region>.json``
in the keys bucket), or the operator's PEM key, every few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import aioboto3
from botocore.exceptions import BotoCoreError, ClientError

from recorder.integrity.keystore import KeyStore, read_public_entries, region_of_public_object
from recorder.integrity.signing import PublicKey
from recorder.obs.logging import get_logger
from recorder.settings import Settings

log = get_logger("recorder.keys")


class StoredPublicKeys:
    def __init__(self, settings: Settings, refresh_every: float = 2.0) -> None:
        self.settings = settings
        self.refresh_every = refresh_every
        self._keys: dict[str, list[PublicKey]] = {}
        self._objects: dict[str, list[PublicKey]] = {}
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
            names = await store._list("public/")
        except ClientError:
            return  # no keys bucket yet: the digester has not signed anything
        found: dict[str, dict[str, PublicKey]] = {}
        for name in names:
            # Per-key objects never change: read each once. The older per-region
            # list (public/<region>.json) is read every time.
            if name not in self._objects or name.count("/") == 1:
                body = await store._get(name)
                if body is None:
                    continue
                self._objects[name] = read_public_entries(body)
            region = region_of_public_object(name)
            for k in self._objects[name]:
                found.setdefault(region, {})[k.fingerprint] = k
        self._keys = {
            region: sorted(keys.values(), key=lambda k: (k.validity_start, k.fingerprint))
            for region, keys in found.items()
        }
