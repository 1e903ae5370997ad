"""Upload slots shared fairly among the buckets (or destinations) that want them.

The writer bounds how many puts run at once (``total``). Shared first come, first
served, the slots went to whoever asked most: a bucket whose puts hang until botocore
gives up (about 100 s each) could hold all of them while every other tenant's files
waited. Here each key (the bucket a put goes to; for parked retries, the trail) has a
*fair share*: the slots divided among the keys holding or waiting for one. A key
holds at most its share while others wait, and a key holding none may always take one
(a healthy bucket never waits behind stuck ones, even when they fill every slot). Keys
are served in the order they asked.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter, deque
from collections.abc import AsyncIterator, Hashable


class FairSlots:
    def __init__(self, total: int) -> None:
        if total < 1:
            raise ValueError("at least one slot")
        self.total = total
        self.in_use: Counter[Hashable] = Counter()
        self._waiting: deque[tuple[Hashable, asyncio.Future[None]]] = deque()

    def share(self) -> int:
        """Slots one key may hold while others want some."""
        keys = len(self.in_use.keys() | {k for k, _ in self._waiting})
        return max(1, self.total // max(1, keys))

    def _may_take(self, key: Hashable) -> bool:
        held = self.in_use[key]
        if held == 0:
            return True
        return sum(self.in_use.values()) < self.total and held < self.share()

    @contextlib.asynccontextmanager
    async def take(self, key: Hashable) -> AsyncIterator[None]:
        if not self._waiting and self._may_take(key):
            self.in_use[key] += 1
        else:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiting.append((key, waiter))
            self._wake()  # a key holding none goes at once, past others' waiters
            try:
                await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    self._release(key)  # granted as it was cancelled
                else:
                    with contextlib.suppress(ValueError):
                        self._waiting.remove((key, waiter))
                raise
        try:
            yield
        finally:
            self._release(key)

    def _release(self, key: Hashable) -> None:
        self.in_use[key] -= 1
        if self.in_use[key] <= 0:
            del self.in_use[key]
        self._wake()

    def _wake(self) -> None:
        """Grant waiters in the order they came, each as its key's share allows."""
        kept: deque[tuple[Hashable, asyncio.Future[None]]] = deque()
        while self._waiting:
            key, waiter = self._waiting.popleft()
            if waiter.done():
                continue
            if self._may_take(key):
                self.in_use[key] += 1
                waiter.set_result(None)
            else:
                kept.append((key, waiter))
        self._waiting = kept

    @property
    def waiting(self) -> int:
        return len(self._waiting)
