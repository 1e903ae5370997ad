"""A sink for hook tests without Kafka: renders captures when asked, as the real sink's
thread does (the same ``Installation.render``), and keeps the encoded records."""

from __future__ import annotations

import time
from typing import Any

from recorder.events import decode


class RenderingSink:
    def __init__(self) -> None:
        self.queued: list[tuple[Any, Any]] = []
        self.encoded: list[tuple[bytes, bytes]] = []

    def emit(self, key: bytes, value: bytes) -> None:
        self.queued.append((key, value))

    def defer(self, installation: Any, capture: Any) -> None:
        self.queued.append((installation, capture))

    def records(self) -> list[dict[str, Any]]:
        """Render what is queued (like the sink's thread: the identity as the resolver
        answers it, which may be after a lookup) and decode every record so far."""
        for first, second in self.queued:
            if isinstance(first, bytes):
                self.encoded.append((first, second))
                continue
            deadline = time.monotonic() + 10
            while (identity := first.identity_of(second)) is None:
                assert time.monotonic() < deadline, "the resolver never answered"
                time.sleep(0.005)
            self.encoded.append(first.render(second, identity))
        self.queued.clear()
        return [decode(v) for _, v in self.encoded]
