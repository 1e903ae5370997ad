"""Is a stage making progress? Pure.

``/readyz`` must not say ok while a stage sits on work it cannot finish (a batch
retrying forever, a full buffer): a stage is *stalled* when it has work and its
progress counter has not moved for ``stall_after`` seconds.
"""

from __future__ import annotations


class Progress:
    def __init__(self, stall_after: float, now: float) -> None:
        self.stall_after = stall_after
        self._count = 0
        self._since = now

    def observe(self, count: int, has_work: bool, now: float) -> bool:
        """Record the stage's progress counter; True when it is stalled."""
        if count != self._count or not has_work:
            self._count = count
            self._since = now
        return now - self._since > self.stall_after
