"""One writer per account across API replicas: leases taken on the ``trails`` topic.

Every trail write checks the account's current trails (name taken? a sixth trail in
the region?) and then publishes a whole document. Two replicas doing that at once
would both pass their checks, or both read-modify-write the same document and lose
one change. So a write first takes the account's lease, decided by the log itself
(:class:`recorder.trails.leases.LeaseTable`, replayed by every reader of ``trails``):

* a replica appends ``lease/<account>`` = ``{"op": "acquire", "id": ..., "ms": ...}``
  and reads on until the table grants it (the first unreleased acquire holds; one
  held longer than its ``ms`` in log time is dropped once the log shows that time);
* the holder has read the log up to its grant, which lies after the previous
  holder's release, which lies after that holder's trail record; so it decides on
  the account's latest state, publishes with its lease's *epoch*, waits to read its
  write back, and releases;
* every reader of ``trails`` takes a trail record only if its epoch is not below the
  account's fence (the newest epoch granted before it in the log): a holder paused
  past its lease, or whose send lands after another replica was granted the lease,
  is ignored by every reader alike (fencing), and the API answers ``ConflictException``
  as CloudTrail does when another operation is modifying the resource.

A holder also gives up (503, the client retries) instead of publishing once less than
a third of its lease is left in the log's time (:meth:`Leases.log_now_ms`: the
newest record time read, moved on by the monotonic clock since), which spares a
write that fencing would refuse; it is never what keeps two writers apart.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from recorder.obs.logging import get_logger
from recorder.trails.leases import LEASE_MS, PREFIX, Grant, LeaseTable

__all__ = ["LEASE_MS", "PREFIX", "Lease", "LeaseTable", "Leases"]

log = get_logger("recorder.api.leases")

#: A holder publishes only with at least 1/MARGIN_SHARE of its lease left.
MARGIN_SHARE = 3


Publish = Callable[[str, dict[str, Any]], Any]  # (key, value) -> awaitable offset


@dataclass
class Lease:
    account: str
    id: str
    grant: Grant

    @property
    def epoch(self) -> int:
        return self.grant.epoch

    def deadline_ms(self) -> int:
        """The log time after which this holder no longer publishes."""
        return self.grant.deadline_ms(self.grant.lease_ms // MARGIN_SHARE)


class Leases:
    """Take and give back an account's lease through the registry's view of the log."""

    def __init__(
        self,
        table: LeaseTable,
        changed: asyncio.Condition,
        publish: Publish,
        position: Callable[[], int],
        lease_ms: int = LEASE_MS,
    ) -> None:
        self._table = table
        self._changed = changed
        self._publish = publish
        self._position = position  # next offset of `trails` the registry will apply
        self.lease_ms = lease_ms
        self._seen_log_ms = -1
        self._seen_at = time.monotonic()

    def log_now_ms(self) -> int:
        """The log's time now: the newest record time read, plus the monotonic time
        since it was first seen (one clock: never this host's wall clock)."""
        if self._table.log_time_ms != self._seen_log_ms:
            self._seen_log_ms = self._table.log_time_ms
            self._seen_at = time.monotonic()
        return self._seen_log_ms + int((time.monotonic() - self._seen_at) * 1000)

    async def acquire(self, account: str, lease_id: str, within: float = 30.0) -> Lease:
        await self._publish(
            PREFIX + account, {"op": "acquire", "id": lease_id, "ms": self.lease_ms}
        )
        loop = asyncio.get_running_loop()
        give_up = loop.time() + within
        tick_every = self.lease_ms / 1000 + 1
        while True:
            left = give_up - loop.time()
            if left <= 0:
                await self.release(account, lease_id)
                raise TimeoutError(f"lease of {account} not granted in {within:.0f} s")
            try:
                async with asyncio.timeout(min(left, tick_every)), self._changed:
                    await self._changed.wait_for(lambda: self._granted(account, lease_id))
                grant = self._table.grant(account, lease_id)
                if grant is not None and self._granted(account, lease_id):
                    return Lease(account, lease_id, grant)
            except TimeoutError:
                # no record moved log time on: a holder may have died; move it
                await self._publish(PREFIX + account, {"op": "tick"})

    def _granted(self, account: str, lease_id: str) -> bool:
        grant = self._table.grant(account, lease_id)
        return grant is not None and self._position() > grant.granted_by

    async def release(self, account: str, lease_id: str) -> None:
        await self._publish(PREFIX + account, {"op": "release", "id": lease_id})
