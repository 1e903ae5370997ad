"""Producer credentials: the operator's producers file (``RECORDER_PRODUCERS_FILE``).

::

    {"producers": [
      {"name": "payments",
       "accounts": ["111122223333"],
       "keys": [{"keyId": "payments-2026-06", "secret": "..."},
                {"keyId": "payments-2026-12", "secret": "..."}],
       "revokedKeyIds": ["payments-2025-12"]}
    ]}

A producer may write records for the accounts it lists (``"*"``: any account, for
the recorder's own components: the control API's records and PutAuditEvents).
It holds at most two keys at once, so a key is rotated without a gap: add the new
key, move the producers to it, remove the old one (or list it under
``revokedKeyIds``, so that what it still signs is dead-lettered as *revoked* rather
than *unknown*). Key ids name keys in logs, metrics and the dead-letter topic;
secrets never leave this object (``repr`` hides them).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from recorder.obs.logging import get_logger

log = get_logger("recorder.provenance")

ANY_ACCOUNT = "*"
#: Keys a producer may hold at once: the current one and the next (rotation).
MAX_KEYS = 2
#: Shortest secret accepted: 32 bytes, the HMAC-SHA256 block's half.
MIN_SECRET = 32

_KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_ACCOUNT = re.compile(r"\d{12}")


class Rejected(ValueError):
    """A record its producer may not send: unsigned, badly signed, or for an account its
    key does not cover. ``kind`` is a short label (metrics), ``key_id`` the key named."""

    def __init__(self, kind: str, message: str, key_id: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.key_id = key_id


@dataclass(frozen=True, slots=True)
class ProducerKey:
    """One key: what a producer signs with."""

    key_id: str
    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not _KEY_ID.fullmatch(self.key_id):
            raise ValueError(f"key id {self.key_id!r} must be 1-64 of A-Z a-z 0-9 . _ -")
        if len(self.secret) < MIN_SECRET:
            raise ValueError(f"key {self.key_id}: the secret must be at least {MIN_SECRET} bytes")

    def mac(self) -> Any:
        """A fresh HMAC-SHA256 keyed with the secret (``copy()`` it per record): the
        OpenSSL object inside ``hmac.HMAC`` where there is one, with the same
        ``copy``/``update``/``hexdigest``, since the Python wrapper's ``copy`` costs a
        fifth of what signing or checking a record costs."""
        mac = hmac.new(self.secret, digestmod=hashlib.sha256)
        return getattr(mac, "_hmac", None) or mac

    @classmethod
    def generate(cls, key_id: str) -> ProducerKey:
        """A new key with a random secret (64 hex characters)."""
        return cls(key_id, os.urandom(32).hex().encode())


@dataclass(frozen=True, slots=True)
class Producer:
    name: str
    accounts: frozenset[str]  # {"*"}: any account

    def allows(self, account: str) -> bool:
        return ANY_ACCOUNT in self.accounts or account in self.accounts


@dataclass(frozen=True, slots=True)
class _Entry:
    producer: Producer
    key: ProducerKey
    mac: Any  # the keyed HMAC, copied per record: the key schedule is done once


class ProducerKeys:
    """Key id -> (producer, key), and the revoked key ids; read from a producers file."""

    def __init__(
        self,
        producers: Iterable[tuple[Producer, Iterable[ProducerKey], Iterable[str]]],
    ) -> None:
        self._by_key: dict[str, _Entry] = {}
        self._revoked: dict[str, Producer] = {}
        self.producers: list[Producer] = []
        for producer, keys, revoked in producers:
            self.producers.append(producer)
            for key in keys:
                if key.key_id in self._by_key:
                    raise ValueError(f"key id {key.key_id} appears twice")
                self._by_key[key.key_id] = _Entry(producer, key, key.mac())
            for key_id in revoked:
                self._revoked[key_id] = producer

    def __len__(self) -> int:
        return len(self._by_key)

    def entry(self, key_id: str) -> _Entry | None:
        return self._by_key.get(key_id)

    def revoked(self, key_id: str) -> Producer | None:
        return self._revoked.get(key_id)

    def key(self, key_id: str) -> ProducerKey | None:
        entry = self._by_key.get(key_id)
        return entry.key if entry is not None else None

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._by_key)

    # -- the file ------------------------------------------------------------------------
    @classmethod
    def from_file(cls, path: Path) -> ProducerKeys:
        try:
            text = path.read_bytes()
        except OSError as exc:
            raise ValueError(f"{path}: {exc.strerror}") from None
        try:
            doc = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"{path}: not JSON: {exc}") from None
        return cls.from_document(doc, source=str(path))

    @classmethod
    def from_document(cls, doc: Any, source: str = "producers") -> ProducerKeys:
        entries = doc.get("producers") if isinstance(doc, Mapping) else None
        if not isinstance(entries, list):
            raise ValueError(f'{source}: expected {{"producers": [...]}}')
        out = []
        names: set[str] = set()
        for i, e in enumerate(entries):
            where = f"{source}: producers[{i}]"
            if not isinstance(e, Mapping):
                raise ValueError(f"{where} is not an object")
            name = e.get("name")
            if not isinstance(name, str) or not name:
                raise ValueError(f"{where}.name must be a non-empty string")
            if name in names:
                raise ValueError(f"{where}: producer {name!r} appears twice")
            names.add(name)
            accounts = e.get("accounts")
            if not isinstance(accounts, list) or not accounts:
                raise ValueError(f'{where}.accounts must list account ids (or "*")')
            for a in accounts:
                if a != ANY_ACCOUNT and not (isinstance(a, str) and _ACCOUNT.fullmatch(a)):
                    raise ValueError(f"{where}.accounts: {a!r} is not a 12-digit account id")
            keys = e.get("keys")
            if not isinstance(keys, list) or not keys:
                raise ValueError(f"{where}.keys must list at least one key")
            if len(keys) > MAX_KEYS:
                raise ValueError(
                    f"{where}: {len(keys)} keys; a producer holds at most {MAX_KEYS} "
                    "(the current and the next): remove or revoke the old one first"
                )
            parsed = []
            for j, k in enumerate(keys):
                if not isinstance(k, Mapping):
                    raise ValueError(f"{where}.keys[{j}] is not an object")
                key_id, secret = k.get("keyId"), k.get("secret")
                if not isinstance(key_id, str) or not isinstance(secret, str):
                    raise ValueError(f"{where}.keys[{j}] needs keyId and secret strings")
                try:
                    parsed.append(ProducerKey(key_id, secret.encode()))
                except ValueError as exc:
                    raise ValueError(f"{where}.keys[{j}]: {exc}") from None
            revoked = e.get("revokedKeyIds") or []
            if not isinstance(revoked, list) or not all(isinstance(r, str) for r in revoked):
                raise ValueError(f"{where}.revokedKeyIds must be a list of key ids")
            live = {k.key_id for k in parsed}
            if live & set(revoked):
                raise ValueError(f"{where}: key {sorted(live & set(revoked))[0]} is revoked")
            out.append((Producer(name, frozenset(accounts)), parsed, revoked))
        return cls(out)


def producers_document(
    name: str, accounts: Iterable[str], keys: Iterable[ProducerKey]
) -> dict[str, Any]:
    """A producers file with one producer (what ``make run`` and the test stack write)."""
    return {
        "producers": [
            {
                "name": name,
                "accounts": list(accounts),
                "keys": [{"keyId": k.key_id, "secret": k.secret.decode()} for k in keys],
            }
        ]
    }


class WatchedProducerKeys:
    """A producers file that is read again when it changes, so that keys are added,
    rotated and revoked without a restart (a mounted Secret is replaced in place).

    The file is looked at no more often than every ``interval`` seconds; a file that
    no longer parses keeps the last good keys, with an error logged each time it is
    seen (``recorder_producer_keys_reloads_total{outcome}`` when given a counter).
    """

    def __init__(self, path: Path, interval: float = 2.0, counter: Any = None) -> None:
        self.path = path
        self.interval = interval
        self._counter = counter
        self._lock = threading.Lock()
        self._stamp = self._stat()
        self._keys = ProducerKeys.from_file(path)
        self._checked = time.monotonic()

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def current(self) -> ProducerKeys:
        now = time.monotonic()
        if now - self._checked < self.interval:
            return self._keys
        with self._lock:
            self._checked = now
            stamp = self._stat()
            if stamp is None or stamp == self._stamp:
                return self._keys
            self._stamp = stamp
            try:
                self._keys = ProducerKeys.from_file(self.path)
            except ValueError as exc:
                log.error("producer_keys_reload_failed", path=str(self.path), error=str(exc))
                if self._counter is not None:
                    self._counter.labels("failed").inc()
                return self._keys
            log.info("producer_keys_reloaded", path=str(self.path), keys=len(self._keys))
            if self._counter is not None:
                self._counter.labels("reloaded").inc()
            return self._keys
