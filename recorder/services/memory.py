"""How a service process runs Python's cyclic garbage collector.

The routing and delivery paths allocate a few dicts and lists per record, which
reference counting frees as soon as the record is done; the cyclic collector,
at Python's default first threshold (700 net container allocations), still runs a
young-generation pass every few records, and each pass also walks the survivors
of the last one. A higher threshold makes those passes rare (``gc_threshold``,
``RECORDER_GC_THRESHOLD``); :func:`freeze_startup` then moves what start-up
allocated (botocore's service models, compiled selector indexes, ...) out of the
collector's sight, so the rare full passes do not walk it again and again.
Nothing here changes what is freed, only when the collector looks for cycles.
"""

from __future__ import annotations

import gc

from recorder.obs.logging import get_logger

log = get_logger("recorder.services.memory")


def tune_collector(threshold: int) -> None:
    """The first generation's threshold; 0 keeps Python's own."""
    if threshold <= 0:
        return
    _, second, third = gc.get_threshold()
    gc.set_threshold(threshold, second, third)
    log.info("gc_tuned", threshold=threshold)


def freeze_startup() -> None:
    """Everything allocated so far is permanent from the collector's point of view."""
    gc.collect()
    gc.freeze()
