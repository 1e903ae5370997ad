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


class TopSeries:
    """A labelled gauge whose series are replaced as a whole on each update, keeping
    only the ``cap`` largest values.

    For state that comes and goes (a trail parked now, delivered later): a series of
    a trail no longer parked is removed rather than left at its last value, and a
    flood of broken tenants shows the ``cap`` worst instead of growing without bound.
    """

    def __init__(self, gauge: Any, cap: int) -> None:
        self._gauge = gauge
        self._cap = cap
        self._shown: set[tuple[str, ...]] = set()

    def replace(self, values: dict[tuple[str, ...], float]) -> None:
        """Show exactly ``values`` (label values in the gauge's label order), at most ``cap``."""
        top = sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))[: self._cap]
        keep = {labels for labels, _ in top}
        for labels in self._shown - keep:
            self._gauge.remove(*labels)
        for labels, value in top:
            self._gauge.labels(*labels).set(value)
        self._shown = keep

    def __getattr__(self, name: str) -> Any:
        return getattr(self._gauge, name)
