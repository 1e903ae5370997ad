"""One writer per account across API replicas: leases taken on the ``trails`` topic.

Every trail write checks the account's current trails (name taken? a sixth trail in
the region?) and then publishes a whole document. Two replicas doing that at once
would both pass their checks, or both read-modify-write the same document and lose
one change. So a write first takes the account's lease, and the lease is decided by
the log itself, the one thing every replica reads in the same order:

* a replica appends ``lease/<account>`` = ``{"op": "acquire", "id": ...}`` to the
  single partition of ``trails`` and reads on until it sees its own record;
* the lease table is a FIFO queue per account, replayed from the log by every
  replica alike: the first unreleased acquire holds the lease; ``release`` removes
  an entry; an entry holding the lease longer than :data:`LEASE_MS` (measured in
  record timestamps, so every replica agrees) is dropped when a later record shows
  the time has passed (a crashed holder; a waiter appends a ``tick`` to move time);
* the holder has read the log up to its grant, which lies after the previous
  holder's release, which lies after that holder's trail record; so it decides on
  the account's latest state, publishes, waits to read its write back, and releases.

Trail records are therefore only ever written by the account's single writer: the
compacted topic keeps the latest record per trail, and every such record is one a
writer decided on the latest state, so compaction can never resurrect a losing
write (the reason for a lease rather than compare-and-set records, whose losing
records compaction could leave as a key's last value). Lease records use their own
keys, ignored by the registry; compaction keeps the last per account, which is all
a late reader needs (older leases have long expired). A holder gives up (503, the
client retries) instead of publishing once less than :data:`MARGIN_MS` of its lease
is left, so a paused holder does not write after its lease could have passed on.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from recorder.obs.logging import get_logger

log = get_logger("recorder.api.leases")

PREFIX = "lease/"
#: How long a lease holds without a release (record-timestamp milliseconds).
LEASE_MS = 15_000
#: A holder publishes only with at least this much of its lease left.
MARGIN_MS = 5_000


@dataclass(slots=True)
class _Entry:
    id: str
    acquired_ms: int
    granted_ms: int | None = None


@dataclass
class LeaseTable:
    """The lease queues, replayed from ``lease/`` records in log order (pure)."""

    lease_ms: int = LEASE_MS
    queues: dict[str, deque[_Entry]] = field(default_factory=dict)

    def apply(self, key: str, value: bytes | None, timestamp_ms: int) -> None:
        """One record of the ``trails`` topic (any key: every record advances time)."""
        if key.startswith(PREFIX) and value is not None:
            account = key[len(PREFIX) :]
            try:
                doc: Any = orjson.loads(value)
            except orjson.JSONDecodeError:
                doc = None
            if isinstance(doc, dict):
                queue = self.queues.setdefault(account, deque())
                op, lease_id = doc.get("op"), str(doc.get("id", ""))
                if op == "acquire" and lease_id:
                    queue.append(_Entry(lease_id, timestamp_ms))
                elif op == "release":
                    for entry in list(queue):
                        if entry.id == lease_id:
                            queue.remove(entry)
        self._advance(timestamp_ms)

    def _advance(self, now_ms: int) -> None:
        for account, queue in self.queues.items():
            while queue:
                head = queue[0]
                if head.granted_ms is None:
                    head.granted_ms = max(head.acquired_ms, now_ms)
                if head.granted_ms + self.lease_ms < now_ms:
                    log.warning("api_lease_expired", account_id=account, lease=head.id)
                    queue.popleft()
                    continue
                break
        for account in [a for a, q in self.queues.items() if not q]:
            del self.queues[account]

    def holder(self, account: str) -> str | None:
        queue = self.queues.get(account)
        return queue[0].id if queue else None

    def granted_at(self, account: str, lease_id: str) -> int | None:
        """When ``lease_id`` became the holder (record time), while it holds."""
        queue = self.queues.get(account)
        if queue and queue[0].id == lease_id:
            return queue[0].granted_ms
        return None


Publish = Callable[[str, dict[str, Any]], Any]  # (key, value) -> awaitable offset


@dataclass
class Lease:
    account: str
    id: str
    granted_ms: int

    def deadline_ms(self, lease_ms: int = LEASE_MS, margin_ms: int = MARGIN_MS) -> int:
        return self.granted_ms + lease_ms - margin_ms


class Leases:
    """Take and give back an account's lease through the registry's view of the log."""

    def __init__(self, table: LeaseTable, changed: asyncio.Condition, publish: Publish) -> None:
        self._table = table
        self._changed = changed
        self._publish = publish

    async def acquire(self, account: str, lease_id: str, within: float = 30.0) -> Lease:
        await self._publish(PREFIX + account, {"op": "acquire", "id": lease_id})
        loop = asyncio.get_running_loop()
        give_up = loop.time() + within
        tick_every = self._table.lease_ms / 1000 + 1
        while True:
            left = give_up - loop.time()
            if left <= 0:
                await self.release(Lease(account, lease_id, 0))
                raise TimeoutError(f"lease of {account} not granted in {within:.0f} s")
            try:
                async with asyncio.timeout(min(left, tick_every)), self._changed:
                    await self._changed.wait_for(
                        lambda: self._table.granted_at(account, lease_id) is not None
                    )
                granted = self._table.granted_at(account, lease_id)
                if granted is not None:
                    return Lease(account, lease_id, granted)
            except TimeoutError:
                # no record moved log time on: a holder may have died; move it
                await self._publish(PREFIX + account, {"op": "tick"})

    async def release(self, lease: Lease) -> None:
        await self._publish(PREFIX + lease.account, {"op": "release", "id": lease.id})
