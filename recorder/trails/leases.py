"""The per-account write leases on the ``trails`` topic, and the fence they set. Pure.

Every trail write of the control API happens under its account's lease
(:mod:`recorder.api.leases` takes and gives them back). The lease is decided by the
log itself, the one thing every reader of ``trails`` reads in the same order:

* ``lease/<account>`` = ``{"op": "acquire", "id": ..., "ms": ...}`` queues a request;
  its *epoch* is the record's offset, so epochs grow in log order and are the same
  for every reader;
* the table is a FIFO queue per account: the first unreleased acquire holds the lease;
  ``release`` removes an entry; an entry holding longer than its ``ms`` (in record
  timestamps: the broker's clock where the topic has ``LogAppendTime``, and the same
  numbers for every reader in any case) is dropped once a later record shows that time
  has passed (a crashed holder; a waiter appends a ``tick`` to move time on);
* the **fence** of an account is the highest epoch granted so far. Every trail record
  carries its writer's epoch (header :data:`EPOCH_HEADER`), and a reader takes it only
  if its epoch is not below the fence at that point of the log (:meth:`admits`). A
  holder paused past its lease, or whose send landed late, wrote with an epoch an
  other writer's grant has passed: every reader ignores that record alike, so the
  write is lost as a whole, never half-applied, and never replaces the newer writer's.

Compaction keeps the last record per key: a fresh reader may not see old acquires,
so its fence can be lower than a live reader's was. It then accepts what a live reader
accepted (trail records are only ever checked against *newer* grants, which lie before
them in the log), and a rejected record, which would be the last of its trail's key, is
followed at once by its writer's repair (the accepted document written again under a
new lease), so compaction drops it before a fresh reader could take it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

import orjson

PREFIX = "lease/"
#: Header of every trail record the control API writes: the epoch of its lease.
EPOCH_HEADER = "recorder-lease-epoch"
#: How long a lease holds without a release (record-timestamp milliseconds), unless
#: its acquire record says otherwise.
LEASE_MS = 15_000


@dataclass(slots=True)
class _Entry:
    id: str
    epoch: int
    acquired_ms: int
    lease_ms: int
    granted_ms: int | None = None
    granted_by: int = -1  # offset of the record that made it the holder


@dataclass(frozen=True, slots=True)
class Grant:
    """A lease granted: its epoch (the acquire record's offset), when (log time), and
    the offset of the record that granted it: a reader acts on the grant only once it
    has applied that record's whole batch (every earlier write of the account)."""

    epoch: int
    granted_ms: int
    lease_ms: int
    granted_by: int

    def deadline_ms(self, margin_ms: int) -> int:
        return self.granted_ms + self.lease_ms - margin_ms


@dataclass
class LeaseTable:
    """The lease queues and fences, replayed from ``trails`` in log order."""

    lease_ms: int = LEASE_MS
    queues: dict[str, deque[_Entry]] = field(default_factory=dict)
    fences: dict[str, int] = field(default_factory=dict)
    #: The newest record timestamp seen: the log's time.
    log_time_ms: int = 0
    expired: int = 0

    def apply(self, key: str, value: bytes | None, timestamp_ms: int, offset: int = -1) -> None:
        """One record of the ``trails`` topic (any key: every record advances time)."""
        if key.startswith(PREFIX) and value is not None:
            account = key[len(PREFIX) :]
            try:
                doc: Any = orjson.loads(value)
            except orjson.JSONDecodeError:
                doc = None
            if isinstance(doc, dict):
                op, lease_id = doc.get("op"), str(doc.get("id", ""))
                if op == "acquire" and lease_id:
                    ms = doc.get("ms")
                    length = int(ms) if isinstance(ms, int) and ms > 0 else self.lease_ms
                    queue = self.queues.setdefault(account, deque())
                    queue.append(_Entry(lease_id, offset, timestamp_ms, length))
                elif op == "release":
                    queue = self.queues.get(account) or deque()
                    for entry in list(queue):
                        if entry.id == lease_id:
                            queue.remove(entry)
        self._advance(timestamp_ms, offset)

    def admits(self, account: str, epoch: int | None, timestamp_ms: int, offset: int = -1) -> bool:
        """Whether a trail record of ``account`` written under ``epoch`` takes effect
        (call in log order, for the record at ``timestamp_ms``). A record without an
        epoch (written before leases were fenced, or by a tool) is taken."""
        self._advance(timestamp_ms, offset)
        if epoch is None:
            return True
        return epoch >= self.fences.get(account, -1)

    def _advance(self, now_ms: int, offset: int) -> None:
        self.log_time_ms = max(self.log_time_ms, now_ms)
        now = self.log_time_ms
        emptied = []
        for account, queue in self.queues.items():
            while queue:
                head = queue[0]
                if head.granted_ms is None:
                    head.granted_ms = max(head.acquired_ms, now)
                    head.granted_by = offset
                    if head.epoch > self.fences.get(account, -1):
                        self.fences[account] = head.epoch
                if head.granted_ms + head.lease_ms < now:
                    self.expired += 1
                    queue.popleft()
                    continue
                break
            if not queue:
                emptied.append(account)
        for account in emptied:
            del self.queues[account]

    def holder(self, account: str) -> str | None:
        queue = self.queues.get(account)
        return queue[0].id if queue else None

    def grant(self, account: str, lease_id: str) -> Grant | None:
        """``lease_id``'s grant while it holds the account's lease."""
        queue = self.queues.get(account)
        if queue and queue[0].id == lease_id and queue[0].granted_ms is not None:
            head = queue[0]
            return Grant(head.epoch, head.granted_ms, head.lease_ms, head.granted_by)
        return None

    def granted_at(self, account: str, lease_id: str) -> int | None:
        """When ``lease_id`` became the holder (record time), while it holds."""
        found = self.grant(account, lease_id)
        return None if found is None else found.granted_ms


def epoch_of(headers: Any) -> int | None:
    """The lease epoch a trail record was written under (``None``: not given)."""
    for name, value in headers or ():
        if name == EPOCH_HEADER:
            try:
                return int(value)
            except (TypeError, ValueError):
                return -1  # unreadable: below every fence
    return None
