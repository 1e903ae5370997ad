"""A cap on the distinct values of a metric label.

Every label value is a time series the process keeps forever and Prometheus
scrapes each time; a label taken from tenant input (a trail ARN) would let tenants
grow both without bound. :class:`CappedLabels` passes the first ``cap`` distinct
values through and folds the rest into ``"other"``: the totals stay right, only the
breakdown of the tail is lost.
"""

from __future__ import annotations

import threading
from typing import Any

OTHER = "other"


class CappedLabels:
    """A one-label metric whose label takes at most ``cap`` distinct values (+ ``other``)."""

    def __init__(self, metric: Any, cap: int) -> None:
        self._metric = metric
        self._cap = cap
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def labels(self, value: str) -> Any:
        if value not in self._seen:
            with self._lock:
                if value not in self._seen:
                    if len(self._seen) >= self._cap:
                        return self._metric.labels(OTHER)
                    self._seen.add(value)
        return self._metric.labels(value)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._metric, name)
